"""Check results copied to a real ClickHouse server (Debian clickhouse-server, started by the test
on loopback with its own config and data folder): every result SQLite stored arrives once; with
ClickHouse stopped under load the results wait in the disk spool and are sent when it is back
(counts per monitor equal SQLite's, no item id twice); bad credentials and a dropped table give a
clear log line and metric, no crash and no lost result.

Contract: docs/analytics.md, docs/monitoring.md ("Metrics reference").
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

TOKEN = "clickhouse-test-token"
MONITORS = ("home", "search", "checkout")


def start(workdir: Path, target, clickhouse: ClickHouse, database: str,
          password: str | None = None, extra: tuple[str, ...] = ()) -> PharosRun:
    monitors = [pharos.monitor(name, "http", namespace="shop", frequency="10s", timeout="3s",
                               http={"url": target.url("/")}) for name in MONITORS]
    path = pharos.write_monitors(workdir, monitors)
    (workdir / "tokens").write_text(TOKEN + "\n")
    (workdir / "ch-password").write_text((password or clickhouse.password) + "\n")
    return PharosRun(workdir, [path], extra_args=(
        "--probe-token-file", str(workdir / "tokens"),
        "--clickhouse-url", clickhouse.url, "--clickhouse-database", database,
        "--clickhouse-user", clickhouse.user,
        "--clickhouse-password-file", str(workdir / "ch-password"),
        "--clickhouse-batch-rows", "100", "--clickhouse-flush-interval", "300ms",
        "--clickhouse-retry-max", "1s", *extra))


class Load:
    """Results posted through the probe API as a probe of region "local" would, each with a new
    item id, spread over the last hours."""

    def __init__(self, run: PharosRun) -> None:
        self.run = run
        self.monitors = run.wait_states({name: "Up" for name in MONITORS})
        self.sent: list[str] = []
        self.now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def post(self, count: int, tag: str, repeat: list[dict] | None = None) -> list[dict]:
        results = list(repeat or [])
        for i in range(count):
            monitor = self.monitors[MONITORS[i % len(MONITORS)]]
            at = self.now - dt.timedelta(hours=2, seconds=len(self.sent) + i)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            results.append({
                "namespace": monitor["namespace"], "name": monitor["name"], "uid": monitor["uid"],
                "generation": monitor["generation"], "type": "http", "target": monitor["target"],
                "region": "local", "probe": "load", "itemId": f"{tag}-{len(self.sent) + i}",
                "scheduledAt": stamp, "startedAt": stamp, "outcome": "up", "statusCode": 200,
                "timings": {"dnsUs": 10, "connectUs": 20, "tlsUs": 0, "firstByteUs": 300,
                            "transferUs": 5, "totalUs": 335},
                "error": "", "attempts": 1})
        fresh = results[len(repeat or []):]
        for start in range(0, len(results), 400):  # the probe API takes 500 at most
            chunk = results[start:start + 400]
            reply = self.run.post_results(TOKEN, "local", chunk)
            assert len(reply["accepted"]) + len(reply["duplicates"]) == len(chunk), reply
        self.sent += [result["itemId"] for result in fresh]
        return fresh


def metrics(run: PharosRun) -> dict[str, float]:
    status, _, body = run.request("/metrics")
    assert status == 200
    values = {}
    for line in body.decode().splitlines():
        if line.startswith("pharos_clickhouse_"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def logs(run: PharosRun) -> list[dict]:
    lines = []
    for line in run.stderr_path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return lines


def sqlite_counts(workdir: Path) -> dict[str, int]:
    with sqlite3.connect(workdir / "pharos.db") as db:
        return dict(db.execute("SELECT monitor_uid, count(*) FROM results GROUP BY monitor_uid"))


def clickhouse_counts(clickhouse: ClickHouse, database: str) -> dict[str, int]:
    return {uid: int(count) for uid, count in clickhouse.rows(
        f"SELECT monitor_uid, count() FROM {database}.check_results FINAL GROUP BY monitor_uid")}


def assert_complete_and_once(clickhouse: ClickHouse, database: str, workdir: Path) -> None:
    expected = sqlite_counts(workdir)
    assert sum(expected.values()) > 0
    assert clickhouse_counts(clickhouse, database) == expected
    [[rows, distinct]] = clickhouse.rows(
        f"SELECT count(), uniqExact(item_id) FROM {database}.check_results FINAL")
    assert rows == distinct, "an item id appears twice"


def stop(run: PharosRun) -> None:
    assert run.stop() == 0, run.output()


def test_results_arrive_complete_and_once(tmp_path, target, clickhouse):
    run = start(tmp_path, target, clickhouse, "complete")
    try:
        load = Load(run)
        first = load.post(600, "first")
        load.post(300, "second", repeat=first[:150])  # a probe retrying: SQLite says duplicate
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_rows_sent_total"] >= 900,
                        timeout=60, message="900 rows sent")
        assert metrics(run)["pharos_clickhouse_up"] == 1
    finally:
        stop(run)
    assert_complete_and_once(clickhouse, "complete", tmp_path)
    [[version]] = clickhouse.rows("SELECT max(version) FROM complete.schema_version")
    assert version == "3"
    # Raw rows too (before any merge): every result was sent once.
    [[raw]] = clickhouse.rows("SELECT count() FROM complete.check_results")
    assert int(raw) == sum(sqlite_counts(tmp_path).values())
    [[phases]] = clickhouse.rows(
        "SELECT sum(first_byte_us) FROM complete.check_results FINAL WHERE probe = 'load'")
    assert int(phases) == 900 * 300


def test_clickhouse_stopped_under_load_spools_and_drains(tmp_path, target, clickhouse):
    run = start(tmp_path, target, clickhouse, "away")
    try:
        load = Load(run)
        load.post(300, "before")
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_rows_sent_total"] >= 300,
                        timeout=60, message="the first rows sent")
        clickhouse.stop()
        try:
            # Load goes on (200 results a second) while ClickHouse is away for a minute: until
            # the oldest spooled result is 60 s old.
            rounds = 0

            def away_long_enough() -> bool:
                nonlocal rounds
                load.post(200, f"away{rounds}")
                rounds += 1
                return rounds >= 10 and metrics(run)["pharos_clickhouse_spool_oldest_age_seconds"] >= 60
            pharos.wait_for(away_long_enough, timeout=240, interval=1.0,
                            message="load while ClickHouse is away, the oldest spooled 60 s old")
            away = metrics(run)
            assert away['pharos_clickhouse_batches_failed_total{reason="unreachable"}'] >= 1
            assert away["pharos_clickhouse_up"] == 0
            assert away["pharos_clickhouse_spool_rows"] > 0
            assert run.process.poll() is None
            spool = tmp_path / "pharos.db.clickhouse-spool"
            assert any(spool.glob("*.jsonl")), "the spool is on disk next to the database"
            errors = [line for line in logs(run) if line.get("logger") == "clickhouse"
                      and line.get("level") == "error"]
            assert errors and errors[0]["reason"] == "unreachable", errors
            assert "spool" in errors[0]["msg"]
        finally:
            clickhouse.start()
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_spool_bytes"] == 0,
                        timeout=120, message="the spool drained")
        drained = metrics(run)
        assert drained["pharos_clickhouse_up"] == 1
        assert drained["pharos_clickhouse_spool_oldest_age_seconds"] == 0
        assert drained["pharos_clickhouse_rows_dropped_total"] == 0
    finally:
        stop(run)
    assert_complete_and_once(clickhouse, "away", tmp_path)
    sent = set(load.sent)
    [[found]] = clickhouse.rows(
        "SELECT count() FROM away.check_results FINAL WHERE probe = 'load'")
    assert int(found) == len(sent) == 300 + 200 * rounds


def test_bad_credentials_keep_results_until_fixed(tmp_path, target, clickhouse):
    run = start(tmp_path, target, clickhouse, "auth", password="wrong-password")
    try:
        load = Load(run)
        load.post(250, "auth")
        pharos.wait_for(
            lambda: metrics(run)['pharos_clickhouse_batches_failed_total{reason="auth"}'] >= 1
            and metrics(run)["pharos_clickhouse_spool_rows"] >= 250,
            timeout=30, message="auth failures counted and the rows spooled")
        errors = [line for line in logs(run) if line.get("logger") == "clickhouse"
                  and line.get("reason") == "auth"]
        assert errors, run.output()
        assert "--clickhouse-password-file" in errors[0]["error"]
        assert "wrong-password" not in run.stderr_path.read_text(), "the password is never logged"
        status, _, _ = run.request("/healthz")
        assert status == 200
    finally:
        stop(run)
    # Fixed password, same database file and spool: what waited is sent.
    run = start(tmp_path, target, clickhouse, "auth")
    try:
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_spool_bytes"] == 0
                        and metrics(run)["pharos_clickhouse_rows_sent_total"] >= 250,
                        timeout=60, message="the spool from the first run drained")
    finally:
        stop(run)
    assert_complete_and_once(clickhouse, "auth", tmp_path)


def test_dropped_table_is_created_again_without_losing_later_results(tmp_path, target, clickhouse):
    run = start(tmp_path, target, clickhouse, "dropped")
    try:
        load = Load(run)
        load.post(150, "early")
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_rows_sent_total"] >= 150,
                        timeout=60, message="the first rows sent")
        clickhouse.query("DROP TABLE dropped.check_results")
        late = load.post(300, "late")
        pharos.wait_for(
            lambda: metrics(run)['pharos_clickhouse_batches_failed_total{reason="missing_table"}']
            >= 1, timeout=30, message="the missing table counted")
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_spool_bytes"] == 0
                        and int(clickhouse.rows("SELECT count() FROM dropped.check_results FINAL "
                                                "WHERE item_id LIKE 'late-%'")[0][0]) == 300,
                        timeout=60, message="the table created again and the late rows in it")
        assert any(line.get("reason") == "missing_table" for line in logs(run))
        assert run.process.poll() is None
    finally:
        stop(run)
    ids = {row[0] for row in clickhouse.rows(
        "SELECT item_id FROM dropped.check_results FINAL WHERE probe = 'load'")}
    assert {result["itemId"] for result in late} <= ids


def test_results_in_memory_at_a_kill_are_sent_by_the_next_start(tmp_path, target, clickhouse):
    # Batches that would wait an hour: everything stays in the sink's memory (and its journal).
    run = start(tmp_path, target, clickhouse, "killed",
                extra=("--clickhouse-batch-rows", "100000", "--clickhouse-flush-interval", "1h"))
    try:
        load = Load(run)
        load.post(700, "kill")
        assert metrics(run)["pharos_clickhouse_rows_sent_total"] == 0
    finally:
        run.kill()  # SIGKILL: no shutdown flush
    journals = list((tmp_path / "pharos.db.clickhouse-spool").glob("journal-*.pending"))
    assert journals, "the rows in memory are journaled next to the database"
    run = start(tmp_path, target, clickhouse, "killed")
    try:
        pharos.wait_for(lambda: metrics(run)["pharos_clickhouse_spool_bytes"] == 0
                        and metrics(run)["pharos_clickhouse_rows_sent_total"] >= 700,
                        timeout=60, message="the journal of the killed process sent")
    finally:
        stop(run)
    assert_complete_and_once(clickhouse, "killed", tmp_path)
