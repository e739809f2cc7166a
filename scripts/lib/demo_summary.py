#!/usr/bin/env python3
"""The terminal view of scripts/demo: polls `GET /api/v1/monitors` of `pharos run` and prints a
table of every monitor (state, per-region results, latency, why) whenever a state changes, and
one line when the first check result arrives (with the seconds since the demo started).

    scripts/lib/demo_summary.py --api http://127.0.0.1:8080 [--seconds N] [--started EPOCH]

Exits after --seconds (forever without), or with status 1 when the API stops answering.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

COLOURS = {"Up": "32", "Degraded": "33", "Down": "31", "Pending": "90"}


def fetch(api: str) -> list[dict]:
    with urllib.request.urlopen(f"{api}/api/v1/monitors", timeout=5) as answer:
        return json.load(answer)["monitors"]


def paint(state: str, tty: bool) -> str:
    text = f"{state:<9}"
    return f"\033[{COLOURS.get(state, '0')}m{text}\033[0m" if tty else text


def why(monitor: dict) -> str:
    if monitor.get("incident"):
        return f"incident open: {monitor['reason'] or 'failing'}"
    for region in monitor.get("regions", []):
        if region.get("message"):
            return region["message"]
    if monitor["state"] == "Up":
        return "all assertions pass"
    if monitor["state"] == "Degraded":
        return "assertions pass, slower than degradedAfter"
    return monitor.get("reason") or ""


def table(monitors: list[dict], tty: bool) -> str:
    rows = []
    for monitor in monitors:
        regions = " ".join(f"{r['name']}:{r['state']}" for r in monitor.get("regions", []))
        latencies = [r["latencyMs"] for r in monitor.get("regions", []) if r.get("latencyMs")]
        latency = f"{max(latencies):.0f} ms" if latencies else "-"
        rows.append((monitor["name"], monitor["state"], regions, latency, why(monitor)[:72]))
    name_width = max([len("MONITOR")] + [len(row[0]) for row in rows])
    region_width = max([len("REGIONS")] + [len(row[2]) for row in rows])
    lines = [f"{'MONITOR':<{name_width}}  {'STATE':<9} {'REGIONS':<{region_width}}  "
             f"{'LATENCY':>8}  WHY"]
    for name, state, regions, latency, reason in rows:
        lines.append(f"{name:<{name_width}}  {paint(state, tty)} {regions:<{region_width}}  "
                     f"{latency:>8}  {reason}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--seconds", type=float, default=0, help="stop after N s (0 = never)")
    parser.add_argument("--started", type=float, default=time.time(),
                        help="epoch seconds the demo started (for the first-result time)")
    args = parser.parse_args()
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + args.seconds if args.seconds else None
    shown, first_result, failures = None, False, 0
    while deadline is None or time.monotonic() < deadline:
        try:
            monitors = fetch(args.api)
            failures = 0
        except (OSError, urllib.error.URLError, ValueError) as error:
            failures += 1
            if failures >= 5:
                print(f"demo: the API at {args.api} stopped answering: {error}", file=sys.stderr)
                return 1
            time.sleep(1)
            continue
        if not first_result and any(m.get("lastCheckTime") for m in monitors):
            first_result = True
            print(f"first check result {time.time() - args.started:.0f} s after scripts/demo "
                  "started", flush=True)
        view = [(m["name"], m["state"], tuple((r["name"], r["state"])
                                              for r in m.get("regions", []))) for m in monitors]
        if view != shown:
            shown = view
            print(f"\n{time.strftime('%H:%M:%S')}\n{table(monitors, tty)}", flush=True)
        time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
