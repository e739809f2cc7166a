"""History read from a real ClickHouse server (Debian clickhouse-server, started by the test on
loopback): two `pharos run` processes writing to the same ClickHouse database show the same
uptime and latency for every monitor (the union of what both recorded, which neither SQLite
holds alone); a third started with an empty SQLite shows that history and the results both
recorded; with ClickHouse away, reads fall back to SQLite (metric) and never fail.

Contract: docs/analytics.md ("Reading history"), docs/monitoring.md ("Metrics reference").
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402
from pharos_run import PharosRun  # noqa: E402

TOKEN = "clickhouse-history-token"
MONITORS = ("home", "search", "checkout")
DATABASE = "shared"


def start(workdir: Path, target, clickhouse: ClickHouse) -> PharosRun:
    workdir.mkdir(parents=True, exist_ok=True)
    # Checked at most once during the test: the history is what the test posts.
    monitors = [pharos.monitor(name, "http", namespace="shop", frequency="1h", timeout="3s",
                               http={"url": target.url("/")}) for name in MONITORS]
    path = pharos.write_monitors(workdir, monitors)
    (workdir / "tokens").write_text(TOKEN + "\n")
    (workdir / "ch-password").write_text(clickhouse.password + "\n")
    return PharosRun(workdir, [path], extra_args=(
        "--probe-token-file", str(workdir / "tokens"),
        "--clickhouse-url", clickhouse.url, "--clickhouse-database", DATABASE,
        "--clickhouse-user", clickhouse.user,
        "--clickhouse-password-file", str(workdir / "ch-password"),
        "--clickhouse-batch-rows", "200", "--clickhouse-flush-interval", "300ms",
        "--clickhouse-retry-max", "1s"))


def post_history(run: PharosRun, tag: str, count: int, down_every: int, offset_s: int) -> None:
    """`count` results per monitor spread over the last 50 hours (raw results, hourly and daily
    rollups all take part in the 24 h / 7 d / 30 d windows), every `down_every`-th one down."""
    monitors = pharos.wait_for(lambda: (lambda m: m if set(MONITORS) <= set(m) else None)(
        run.monitors()), timeout=60, message="the monitors listed")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    results = []
    for name_index, name in enumerate(MONITORS):
        monitor = monitors[name]
        for i in range(count):
            at = now - dt.timedelta(seconds=offset_s + 1 + (i * 613) % (50 * 3600))
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            down = (i + name_index) % down_every == 0
            results.append({
                "namespace": monitor["namespace"], "name": monitor["name"],
                "uid": monitor["uid"], "generation": monitor["generation"], "type": "http",
                "target": monitor["target"], "region": "local", "probe": tag,
                "itemId": f"{tag}-{name}-{i}", "scheduledAt": stamp, "startedAt": stamp,
                "outcome": "down" if down else "up", "statusCode": 503 if down else 200,
                "timings": {"dnsUs": 10, "connectUs": 20, "tlsUs": 0,
                            "firstByteUs": 1000 + 37 * (i % 50), "transferUs": 5,
                            "totalUs": 1035 + 37 * (i % 50)},
                "error": "", "attempts": 1})
    for begin in range(0, len(results), 400):
        chunk = results[begin:begin + 400]
        reply = run.post_results(TOKEN, "local", chunk)
        assert len(reply["accepted"]) == len(chunk), reply


def metric(run: PharosRun, name: str) -> float:
    status, _, body = run.request("/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def expected_uptime_24h(workdirs: list[Path]) -> dict[str, float]:
    """Uptime over the last 24 h of every monitor from the union of the SQLite files (each
    process recorded part of it)."""
    since = int((dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24)).timestamp() * 1000)
    counts: dict[str, list[int]] = {}
    for workdir in workdirs:
        with sqlite3.connect(workdir / "pharos.db") as db:
            for uid, outcome, n in db.execute(
                    "SELECT monitor_uid, outcome, count(*) FROM results WHERE at_ms >= ? "
                    "GROUP BY monitor_uid, outcome", (since,)):
                passed, failed = counts.setdefault(uid, [0, 0])
                if outcome in ("up", "degraded"):
                    counts[uid][0] += n
                elif outcome == "down":
                    counts[uid][1] += n
    return {uid: 100.0 * p / (p + f) for uid, (p, f) in counts.items() if p + f}


def figures(run: PharosRun) -> dict[str, tuple]:
    return {m["uid"]: (m["uptime"]["last24h"], m["uptime"]["last7d"], m["uptime"]["last30d"],
                       m["latency"]["p50Ms"], m["latency"]["p95Ms"])
            for m in run.json("/api/v1/monitors")["monitors"]}


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) < 0.01


def test_replicas_and_a_fresh_reader_show_the_same_history(tmp_path, target, clickhouse):
    first = start(tmp_path / "a", target, clickhouse)
    second = start(tmp_path / "b", target, clickhouse)
    fresh = None
    try:
        post_history(first, "a", 200, down_every=4, offset_s=0)
        post_history(second, "b", 150, down_every=9, offset_s=300)
        pharos.wait_for(lambda: metric(first, "pharos_clickhouse_rows_sent_total") >= 600
                        and metric(second, "pharos_clickhouse_rows_sent_total") >= 450,
                        timeout=60, message="both processes' results sent")
        # Neither SQLite file holds both processes' results; the figures of the union are what
        # ClickHouse answers.
        expected = expected_uptime_24h([tmp_path / "a", tmp_path / "b"])
        alone = expected_uptime_24h([tmp_path / "a"])
        assert set(expected) == {f"file:shop/{name}" for name in MONITORS}
        assert all(abs(expected[uid] - alone[uid]) > 0.5 for uid in expected), (expected, alone)

        def both_show_the_union() -> bool:
            a, b = figures(first), figures(second)
            return all(close(a[uid][0], want) and close(b[uid][0], want)
                       for uid, want in expected.items())
        pharos.wait_for(both_show_the_union, timeout=120, interval=1,
                        message=f"both processes show the 24 h uptime of the union {expected}")
        a, b = figures(first), figures(second)
        assert a == b, "every window and percentile equal on both"
        assert metric(first, 'pharos_history_reads_total{source="clickhouse"}') > 0

        # A reader with an empty SQLite: the history and the results come from ClickHouse.
        fresh = start(tmp_path / "fresh", target, clickhouse)
        pharos.wait_for(lambda: all(close(figures(fresh)[uid][0], want)
                                    for uid, want in expected.items()),
                        timeout=120, interval=1, message="the fresh reader shows the history")
        results = fresh.json("/api/v1/monitors/shop/home/results?limit=1000&since="
                             + (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=60))
                             .strftime("%Y-%m-%dT%H:%M:%SZ"))["results"]
        probes = {r.get("probe") for r in results}
        assert {"a", "b"} <= probes, probes
        with sqlite3.connect(tmp_path / "fresh" / "pharos.db") as db:
            [[stored]] = db.execute("SELECT count(*) FROM results WHERE monitor_uid = "
                                    "'file:shop/home' AND region = 'local' AND at_ms < ?",
                                    (int((dt.datetime.now(dt.timezone.utc)
                                          - dt.timedelta(minutes=1)).timestamp() * 1000),))
        assert len(results) > stored + 300, "more than the fresh SQLite holds"

        # ClickHouse away: reads answer from SQLite (counted), never an error.
        clickhouse.stop()
        try:
            pharos.wait_for(
                lambda: first.request("/api/v1/monitors/shop/home/results")[0] == 200
                and metric(first, 'pharos_history_fallbacks_total{reason="error"}')
                + metric(first, 'pharos_history_fallbacks_total{reason="away"}') > 0,
                timeout=60, message="reads fall back to SQLite while ClickHouse is away")
            status, _, _ = first.request("/api/v1/monitors")
            assert status == 200
        finally:
            clickhouse.start()
    finally:
        for run in (first, second, fresh):
            if run is not None:
                assert run.stop() == 0, run.output()
