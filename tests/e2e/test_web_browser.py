"""The status pages, dashboard and badges of a running `pharos run`, in a real browser: headless
Debian Chromium driven by Playwright (playwright-core, installed by scripts/setup into
tests/browser/node_modules), with axe-core for accessibility. The browser assertions are the node
test files tests/browser/*.test.mjs; this file sets up what they open and runs them.

Set-up (127.0.0.1 only, stopped by PID):
* the local target server;
* `pharos run` with Monitors that are Up (homepage), Degraded (search: slower than its
  degradedAfter), Down (checkout: 503), Paused (legacy-api) and one with a resolved incident
  (payments: 500, then 200), and a StatusPage `shop` grouping them (one component by label
  selector);
* 20 days of history for homepage delivered through the probe API (results of past rounds are
  stored and rolled up; the state machine ignores them), including a day with failed checks.

The node tests assert the banner, each component's state, the uptime cells and their tooltips,
the incident timelines, the dashboard's sorting and filtering, a monitor page's charts, badges,
the 404 page; run axe-core; fail on any console error; save screenshots at 390 px and 1440 px in
build/test-artifacts/web/ (copied to docs/images/ by PHAROS_UPDATE_DOC_SCREENSHOTS=1).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
from pharos_run import PharosRun  # noqa: E402
from target_server import TargetServer  # noqa: E402

BROWSER_DIR = pharos.REPO_ROOT / "tests" / "browser"
TOKEN = "web-browser-test-token"


def artifact_dir() -> Path:
    path = pharos.bin_dir().parent / "test-artifacts" / "web"
    path.mkdir(parents=True, exist_ok=True)
    return path


def node_modules_ready() -> None:
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail("tests/browser/node_modules is missing: run scripts/setup (npm ci in "
                    "tests/browser)", pytrace=False)
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("/usr/bin/chromium is missing: run scripts/setup (Debian chromium)",
                    pytrace=False)


def http_monitor(name: str, url: str, namespace: str = "shop", **spec) -> dict:
    manifest = pharos.monitor(name, "http", namespace=namespace, frequency="10s", timeout="3s",
                              http={"url": url},
                              alerting={"failureThreshold": 1, "successThreshold": 1}, **spec)
    return manifest


STATUS_PAGE = {
    "apiVersion": pharos.API_VERSION,
    "kind": "StatusPage",
    "metadata": {"name": "shop", "namespace": "shop"},
    "spec": {
        "title": "Example Shop status",
        "description": "Live status of the Example Shop website, checkout and payments.",
        "groups": [
            {"name": "Storefront", "components": [
                {"monitor": "homepage", "name": "Website",
                 "description": "The shop's public pages"},
                {"monitor": "search", "name": "Search"},
                {"monitor": "checkout", "name": "Checkout"}]},
            {"name": "Billing", "components": [
                {"namespace": "billing", "selector": {"matchLabels": {"tier": "billing"}}}]},
            {"name": "Retired", "components": [{"monitor": "legacy-api", "name": "Legacy API"}]},
        ],
        "footerLinks": [{"title": "Support", "url": "mailto:support@example.com"}],
    },
}


def history(monitor: dict, now: dt.datetime) -> tuple[list[dict], str]:
    """20 days of 3-hourly results for `monitor`, days 2..21 ago; 3 of the 8 checks of the day
    5 days ago failed. Returns the results and that day (YYYY-MM-DD)."""
    results = []
    failed_day = (now - dt.timedelta(days=5)).date()
    for days_ago in range(2, 22):
        day = (now - dt.timedelta(days=days_ago)).date()
        for slot in range(8):
            at = dt.datetime.combine(day, dt.time(hour=3 * slot), tzinfo=dt.timezone.utc)
            failed = day == failed_day and slot < 3
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            results.append({
                "namespace": monitor["namespace"], "name": monitor["name"],
                "uid": monitor["uid"], "generation": monitor["generation"], "type": "http",
                "target": monitor["target"], "region": "local", "probe": "history-loader",
                "itemId": f"history-{monitor['name']}-{stamp}", "scheduledAt": stamp,
                "startedAt": stamp, "outcome": "down" if failed else "up",
                "statusCode": 503 if failed else 200,
                "timings": {"dnsUs": 200, "connectUs": 300, "tlsUs": 0,
                            "firstByteUs": 20_000 + 1_000 * slot, "transferUs": 500,
                            "totalUs": 21_000 + 1_000 * slot},
                "failedAssertion": ({"type": "statusCode", "expected": "2xx", "actual": "503",
                                     "message": "status code 503, expected 2xx"}
                                    if failed else None),
                "error": "", "attempts": 1})
    return results, failed_day.isoformat()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    node_modules_ready()
    workdir = tmp_path_factory.mktemp("web")
    with TargetServer() as target:
        target.set_state("checkout", 503)
        target.set_state("payments", 500)
        monitors = [
            http_monitor("homepage", target.url("/")),
            http_monitor("search", target.url("/slow/first-byte?ms=400"), degradedAfter="150ms"),
            http_monitor("checkout", target.url("/state/checkout")),
            http_monitor("legacy-api", target.url("/"), suspend=True),
        ]
        payments = http_monitor("payments", target.url("/state/payments"), namespace="billing")
        payments["metadata"]["labels"] = {"tier": "billing"}
        payments["metadata"]["annotations"] = {"pharos.dev/display-name": "Payments"}
        monitors.append(payments)
        path = pharos.write_monitors(workdir, monitors + [STATUS_PAGE])
        token_file = workdir / "tokens"
        token_file.write_text(TOKEN + "\n")
        run = PharosRun(workdir, [path], extra_args=("--probe-token-file", str(token_file)))
        try:
            run.wait_states({"payments": "Down", "checkout": "Down"})
            target.set_state("payments", 200)
            states = run.wait_states({"homepage": "Up", "search": "Degraded", "checkout": "Down",
                                      "legacy-api": "Paused", "payments": "Up"})
            now = dt.datetime.now(dt.timezone.utc)
            results, failed_day = history(states["homepage"], now)
            reply = run.post_results(TOKEN, "local", results)
            assert len(reply["accepted"]) == len(results), reply
            yield {"run": run, "failed_day": failed_day, "target": target}
        finally:
            run.kill()


def run_node(test_file: str, expectations: dict) -> None:
    artifacts = artifact_dir()
    env = dict(os.environ, PHAROS_WEB_EXPECT=json.dumps(expectations),
               PHAROS_ARTIFACTS=str(artifacts))
    completed = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(BROWSER_DIR / test_file)],
        cwd=BROWSER_DIR, env=env, capture_output=True, text=True, timeout=300)
    print(completed.stdout[-20000:])
    print(completed.stderr[-5000:], file=sys.stderr)
    assert completed.returncode == 0, (f"node --test {test_file} failed (exit "
                                       f"{completed.returncode}):\n{completed.stdout[-20000:]}"
                                       f"\n{completed.stderr[-5000:]}")


def test_pages_in_a_browser(scenario):
    run: PharosRun = scenario["run"]
    run_node("web.test.mjs", {
        "base": run.base,
        "slug": "shop",
        "banner": "Partial outage",
        "components": {"Website": "Operational", "Search": "Degraded performance",
                       "Checkout": "Outage", "Payments": "Operational", "Legacy API": "Paused"},
        "failedDay": scenario["failed_day"],
        "activeIncident": "Checkout",
        "resolvedIncident": "Payments",
        "monitors": 5,
    })
    if os.environ.get("PHAROS_UPDATE_DOC_SCREENSHOTS") == "1":
        docs = pharos.REPO_ROOT / "docs" / "images"
        docs.mkdir(exist_ok=True)
        for name in ("status-page-1440.png", "status-page-390.png", "dashboard-1440.png",
                     "monitor-1440.png"):
            shutil.copy(artifact_dir() / name, docs / name)
