"""History read from a real ClickHouse server (Debian clickhouse-server, started by the test on
loopback): two `pharos run` processes writing to the same ClickHouse database show the same
uptime and latency for every monitor (the union of what both recorded, which neither SQLite
holds alone); a third started with an empty SQLite shows that history and the results both
recorded; with ClickHouse away, reads fall back to SQLite (metric) and never fail. The JSON API's
24 h / 7 d / 30 d figures, read from the rollups alone, equal the ones counted from the raw rows
in ClickHouse and from SQLite, and a batch sent again (a journal left by a crash after its insert)
changes none of them.

Contract: docs/analytics.md ("Reading history"), docs/monitoring.md ("Metrics reference").
"""

from __future__ import annotations

import datetime as dt
import json
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


def start(workdir: Path, target, clickhouse: ClickHouse, database: str = DATABASE) -> PharosRun:
    workdir.mkdir(parents=True, exist_ok=True)
    # Checked at most once during the test: the history is what the test posts.
    monitors = [pharos.monitor(name, "http", namespace="shop", frequency="1h", timeout="3s",
                               http={"url": target.url("/")}) for name in MONITORS]
    path = pharos.write_monitors(workdir, monitors)
    (workdir / "tokens").write_text(TOKEN + "\n")
    (workdir / "ch-password").write_text(clickhouse.password + "\n")
    return PharosRun(workdir, [path], extra_args=(
        "--probe-token-file", str(workdir / "tokens"),
        "--clickhouse-url", clickhouse.url, "--clickhouse-database", database,
        "--clickhouse-user", clickhouse.user,
        "--clickhouse-password-file", str(workdir / "ch-password"),
        "--clickhouse-batch-rows", "200", "--clickhouse-flush-interval", "300ms",
        "--clickhouse-retry-max", "1s"))


# Results are never posted this close below the 24 h boundary: the window slides while the test
# runs (minutes under load), and a result crossing it between the test's count and a process's
# summary would make them differ for a reason that is not the one under test.
SLIDING_MARGIN = dt.timedelta(hours=1)


def post_history(run: PharosRun, tag: str, count: int, down_every: int, offset_s: int) -> int:
    """`count` results per monitor spread over the last 50 hours (raw results, hourly and daily
    rollups all take part in the 24 h / 7 d / 30 d windows), every `down_every`-th one down, none
    in the hour before the 24 h boundary (SLIDING_MARGIN). Returns how many were posted."""
    monitors = pharos.wait_for(lambda: (lambda m: m if set(MONITORS) <= set(m) else None)(
        run.monitors()), timeout=60, message="the monitors listed")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    results = []
    for name_index, name in enumerate(MONITORS):
        monitor = monitors[name]
        for i in range(count):
            age = dt.timedelta(seconds=offset_s + 1 + (i * 613) % (50 * 3600))
            if dt.timedelta(hours=24) - SLIDING_MARGIN < age <= dt.timedelta(hours=24):
                continue
            at = now - age
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
    return len(results)


def metric(run: PharosRun, name: str) -> float:
    status, _, body = run.request("/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


def expected_uptime_24h(workdirs: list[Path]) -> dict[str, float]:
    """Uptime over the last 24 h of every monitor from the union of the SQLite files (each
    process recorded part of it), each item id counted once: processes checking the same monitor
    record its scheduled check under the same item id (uid@region@slot), which ClickHouse keeps
    once."""
    since = int((dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24)).timestamp() * 1000)
    outcomes: dict[tuple, tuple[str, str]] = {}
    for workdir in workdirs:
        with sqlite3.connect(workdir / "pharos.db") as db:
            for row_id, item_id, uid, outcome in db.execute(
                    "SELECT id, item_id, monitor_uid, outcome FROM results WHERE at_ms >= ?",
                    (since,)):
                outcomes[(item_id,) if item_id else (str(workdir), row_id)] = (uid, outcome)
    counts: dict[str, list[int]] = {}
    for uid, outcome in outcomes.values():
        passed_failed = counts.setdefault(uid, [0, 0])
        if outcome in ("up", "degraded"):
            passed_failed[0] += 1
        elif outcome == "down":
            passed_failed[1] += 1
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
        posted_a = post_history(first, "a", 200, down_every=4, offset_s=0)
        posted_b = post_history(second, "b", 150, down_every=9, offset_s=300)
        pharos.wait_for(lambda: metric(first, "pharos_clickhouse_rows_sent_total") >= posted_a
                        and metric(second, "pharos_clickhouse_rows_sent_total") >= posted_b,
                        timeout=60, message="both processes' results sent")
        # Neither SQLite file holds both processes' results; the figures of the union are what
        # ClickHouse answers.
        expected = expected_uptime_24h([tmp_path / "a", tmp_path / "b"])
        alone = expected_uptime_24h([tmp_path / "a"])
        assert set(expected) == {f"file:shop/{name}" for name in MONITORS}
        assert all(abs(expected[uid] - alone[uid]) > 0.5 for uid in expected), (expected, alone)

        # The union is counted again at every poll: the processes' own checks (one an hour, at
        # the monitors' stable phase, which may fall inside the test; the same item id in every
        # process) join their SQLite files and ClickHouse while the test runs.
        writers = [tmp_path / "a", tmp_path / "b"]

        def wait_for_the_union(runs: list[PharosRun], message: str) -> None:
            seen: dict[str, object] = {}

            def shown() -> bool:
                want = expected_uptime_24h(writers)
                figures_of = [figures(run) for run in runs]
                seen.update(want=want, shown=figures_of)
                return all(figures_of[0] == other for other in figures_of[1:]) and all(
                    close(run_figures.get(uid, (None,))[0], uptime)
                    for run_figures in figures_of for uid, uptime in want.items())
            try:
                pharos.wait_for(shown, timeout=120, interval=1, message=message)
            except TimeoutError as error:
                raise AssertionError(f"{error}; last seen {seen}") from None

        wait_for_the_union([first, second], "both processes to show the same figures: every "
                           "window and percentile, the 24 h uptime of the union of their results")
        assert metric(first, 'pharos_history_reads_total{source="clickhouse"}') > 0

        # A reader with an empty SQLite: the history and the results come from ClickHouse.
        fresh = start(tmp_path / "fresh", target, clickhouse)
        writers.append(tmp_path / "fresh")
        wait_for_the_union([fresh], "the fresh reader to show the history")
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
        # The dashboard's charts (result series of 24 h, hourly rollups per region of 7 and 30
        # days) read ClickHouse too, without an error answer sending them to SQLite.
        for window in ("24h", "7d", "30d"):
            status, _, page = fresh.request(f"/ui/monitors/shop/home?window={window}")
            assert status == 200 and b"<svg" in page, (window, status)
        assert metric(fresh, 'pharos_history_fallbacks_total{reason="error"}') == 0, \
            fresh.output()

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


def hour_aligned_starts(now: dt.datetime) -> list[int]:
    """The first second of the 24 h, 7 d and 30 d windows of the JSON API's summaries: the
    first whole hour in each (docs/analytics.md, "Reading history")."""
    starts = []
    for hours in (24, 24 * 7, 24 * 30):
        since = int((now - dt.timedelta(hours=hours)).timestamp())
        starts.append(-(-since // 3600) * 3600)
    return starts


def raw_uptimes(clickhouse: ClickHouse, database: str, starts: list[int]) -> dict[str, tuple]:
    """Uptime per monitor and window counted from the raw rows, each item id once (FINAL)."""
    columns = ", ".join(
        f"countIf(outcome IN ('up', 'degraded') AND time >= toDateTime({s})), "
        f"countIf(outcome = 'down' AND time >= toDateTime({s}))" for s in starts)
    rows = clickhouse.rows(f"SELECT monitor_uid, {columns} FROM {database}.check_results FINAL "
                           f"GROUP BY monitor_uid")
    return {row[0]: tuple(100.0 * int(p) / (int(p) + int(f)) if int(p) + int(f) else None
                          for p, f in zip(row[1::2], row[2::2])) for row in rows}


def sqlite_uptimes(workdir: Path, starts: list[int]) -> dict[str, tuple]:
    """The same from the process's SQLite file."""
    out: dict[str, tuple] = {}
    with sqlite3.connect(workdir / "pharos.db") as db:
        for uid, in db.execute("SELECT DISTINCT monitor_uid FROM results"):
            figures_of = []
            for start_s in starts:
                [[passed, failed]] = db.execute(
                    "SELECT sum(outcome IN ('up', 'degraded')), sum(outcome = 'down') FROM "
                    "results WHERE monitor_uid = ? AND at_ms >= ?", (uid, start_s * 1000))
                passed, failed = passed or 0, failed or 0
                figures_of.append(100.0 * passed / (passed + failed) if passed + failed else None)
            out[uid] = tuple(figures_of)
    return out


def sqlite_count(workdir: Path) -> int:
    with sqlite3.connect(workdir / "pharos.db") as db:
        [[count]] = db.execute("SELECT count(*) FROM results")
    return count


def test_summaries_from_rollups_equal_the_raw_rows_and_a_retried_batch_changes_nothing(
        tmp_path, target, clickhouse):
    database = "summaries"
    workdir = tmp_path / "single"
    run = start(workdir, target, clickhouse, database)
    try:
        posted = post_history(run, "s", 240, down_every=5, offset_s=0)
        pharos.wait_for(lambda: run.metric("pharos_clickhouse_rows_sent_total") >= posted,
                        timeout=60, message="the results sent")

        def wait_equal(message: str) -> dict[str, tuple]:
            seen: dict[str, object] = {}

            def shown() -> bool:
                starts = hour_aligned_starts(dt.datetime.now(dt.timezone.utc))
                raw = raw_uptimes(clickhouse, database, starts)
                local = sqlite_uptimes(workdir, starts)
                api = {uid: values[:3] for uid, values in figures(run).items()}
                seen.update(raw=raw, sqlite=local, api=api)
                return set(raw) == set(api) == {f"file:shop/{n}" for n in MONITORS} and all(
                    all(close(a, r) and close(a, s) for a, r, s in zip(api[uid], raw[uid],
                                                                        local[uid]))
                    for uid in raw)
            try:
                pharos.wait_for(shown, timeout=120, interval=1, message=message)
            except TimeoutError as error:
                raise AssertionError(f"{error}; last seen {seen}") from None
            return seen["api"]

        before = wait_equal("the API's 24 h / 7 d / 30 d uptime (rollups) to equal the raw rows "
                            "and SQLite")
        # The windows differ: the history spans 50 hours, so the 24 h window holds less of it.
        assert any(values[0] != values[2] for values in before.values()), before

        # A batch ClickHouse took but whose journal a crash left behind: the next start sends it
        # again. The rows are the stored ones, byte for byte what the sink would send.
        rows = clickhouse.rows(
            "SELECT item_id, monitor_uid, monitor_namespace, monitor_name, generation, type, "
            "target, region, probe, toUInt32(time), scheduled_at_ms, started_at_ms, outcome, "
            "status_code, dns_us, connect_us, tls_us, first_byte_us, transfer_us, total_us, "
            f"attempts, error FROM {database}.check_results FINAL "
            "WHERE monitor_uid = 'file:shop/home'")
        names = ("item_id", "monitor_uid", "monitor_namespace", "monitor_name", "generation",
                 "type", "target", "region", "probe", "time", "scheduled_at_ms",
                 "started_at_ms", "outcome", "status_code", "dns_us", "connect_us", "tls_us",
                 "first_byte_us", "transfer_us", "total_us", "attempts", "error")
        numeric = {"generation", "time", "scheduled_at_ms", "started_at_ms", "status_code",
                   "dns_us", "connect_us", "tls_us", "first_byte_us", "transfer_us", "total_us",
                   "attempts"}
        lines = [json.dumps({k: int(v) if k in numeric else v for k, v in zip(names, row)})
                 for row in rows]
        assert len(lines) > 100, len(lines)
        assert run.stop() == 0, run.output()
        stored_before = sqlite_count(workdir)
        journal = workdir / "pharos.db.clickhouse-spool" / "journal-987654.pending"
        journal.write_text("\n".join(lines) + "\n")
        run = start(workdir, target, clickhouse, database)
        pharos.wait_for(lambda: not journal.exists()
                        and run.metric("pharos_clickhouse_rows_sent_total") >= len(lines)
                        and run.metric("pharos_clickhouse_spool_rows") == 0,
                        timeout=60, message="the journal sent again")
        after = wait_equal("the figures after the retried batch to equal the raw rows and "
                           "SQLite")
        if sqlite_count(workdir) == stored_before:  # no check of the monitors' own in between
            assert after == before, (before, after)
        assert metric(run, 'pharos_history_fallbacks_total{reason="error"}') == 0, run.output()
    finally:
        assert run.stop() == 0, run.output()
