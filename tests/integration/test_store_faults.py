"""Store faults in `pharos run`: the SQLite database on a full disk (a small tmpfs filled up), behind
an I/O error (an LD_PRELOAD shim failing every write to the database's directory) and locked by
another process (Python's sqlite3 holding BEGIN EXCLUSIVE). In each case checks and state
decisions go on (a monitor turns Down during the fault), results are held in memory and counted in
pharos_store_held_results, /readyz answers 503 with the reason, the log says what failed and what
to do, and once the fault is gone every held result is written: after a clean stop the database
holds at least every result the process counted as ingested, and the incident opened during the
fault.

Contract: docs/testing.md ("Fault injection"), docs/monitoring.md, docs/api.md.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

import pharos
from pharos_run import PharosRun

STEADY = 8  # monitors that stay Up, so that results keep coming during the fault


def monitors(target, tag: str) -> list[dict]:
    rules = {"failureThreshold": 1, "successThreshold": 1}
    docs = [pharos.monitor(f"steady-{i}", "http", frequency="10s", timeout="2s",
                           http={"url": target.url(f"/status/200?tag={tag}-{i}")},
                           alerting=rules)
            for i in range(STEADY)]
    docs.append(pharos.monitor("flip", "http", frequency="10s", timeout="2s",
                               http={"url": target.url(f"/state/{tag}-flip")}, alerting=rules))
    return docs


def readyz(run: PharosRun) -> tuple[int, dict]:
    status, _, body = run.request("/readyz")
    return status, json.loads(body)


def log_lines(run: PharosRun, message: str) -> list[dict]:
    return [line for line in run.logs() if line.get("msg", "").startswith(message)]


def exercise(tmp_path: Path, target, tag: str, db: Path, start_fault: Callable[[], None],
             end_fault: Callable[[], None], error_words: str,
             env: dict[str, str] | None = None) -> None:
    """Runs `pharos run` on `db`, injects the fault, checks what the user sees during and after
    it, stops cleanly and counts what reached the database."""
    target.set_state(f"{tag}-flip", 200, "ok")
    path = pharos.write_monitors(tmp_path / "monitors", monitors(target, tag))
    run = PharosRun(tmp_path, [path], env=env, db=db)
    try:
        names = [f"steady-{i}" for i in range(STEADY)] + ["flip"]
        run.wait_states({name: "Up" for name in names}, timeout=60)
        assert run.metric("pharos_store_up") == 1
        assert readyz(run)[0] == 200

        fault_started_ms = int(time.time() * 1000)
        start_fault()
        target.set_state(f"{tag}-flip", 500, "broken")
        try:
            pharos.wait_for(lambda: run.metric("pharos_store_up") == 0, timeout=60,
                            message="pharos_store_up to drop to 0")
            # State decisions go on: the flip monitor turns Down while nothing can be written.
            run.wait_states({"flip": "Down"}, timeout=60)
            # Two rounds of every monitor at least.
            pharos.wait_for(lambda: run.metric("pharos_store_held_results") >= 2 * (STEADY + 1),
                            timeout=60, message="results held in memory")
            assert run.metric("pharos_store_up") == 0, "the fault ended by itself"
            status, ready = readyz(run)
            assert status == 503, ready
            assert "result store fails" in ready["reason"], ready
            assert error_words in ready["reason"], ready
            assert "held in memory" in ready["reason"], ready
            assert run.metric("pharos_store_write_failures_total") >= 1
            failed = log_lines(run, "writing results to the store failed")
            assert failed, run.output()
            assert error_words in failed[0]["error"], failed[0]
            assert "free space" in failed[0]["hint"], failed[0]
            held = run.metric("pharos_store_held_results")
        finally:
            end_fault()
        fault_ended_ms = int(time.time() * 1000)

        pharos.wait_for(lambda: run.metric("pharos_store_up") == 1, timeout=60,
                        message="pharos_store_up back to 1 once the fault is gone")
        assert run.metric("pharos_store_held_results") == 0
        pharos.wait_for(lambda: readyz(run)[0] == 200, timeout=30, message="/readyz 200 again")
        recovered = log_lines(run, "the result store accepts writes again")
        assert recovered and recovered[0]["written"] >= held, recovered
        assert run.metric("pharos_store_refused_results_total") == 0
        ingested = run.metric("pharos_check_results_total")
        assert run.stop() == 0, run.output()
    finally:
        run.kill()
    assert not log_lines(run, "stopping while the result store still fails"), run.output()

    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT count(*) FROM results").fetchone()[0]
        # Nothing acknowledged is lost: every result counted before the stop is stored.
        assert rows >= ingested, (rows, ingested)
        during = dict(con.execute(
            "SELECT monitor_name, count(*) FROM results WHERE scheduled_at_ms BETWEEN ? AND ?"
            " GROUP BY monitor_name", (fault_started_ms, fault_ended_ms)).fetchall())
        # The results held during the fault are there (at least a round of them was scheduled
        # after it started).
        assert sum(during.values()) >= STEADY + 1, during
        incidents = con.execute(
            "SELECT opened_at_ms FROM incidents WHERE monitor_key LIKE '%flip'").fetchall()
        assert len(incidents) == 1, incidents
        assert fault_started_ms <= incidents[0][0] <= fault_ended_ms, incidents
        state = con.execute(
            "SELECT state FROM monitor_states WHERE monitor_key LIKE '%flip'").fetchone()
        assert state == ("Down",), state


@contextmanager
def tmpfs(directory: Path, size: str) -> Iterator[Path]:
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(directory)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"mounting a tmpfs needs root: {mounted.stderr.strip()}", pytrace=False)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> Path:
    """Writes a file until the filesystem is full; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = b"\0" * 4096
        while True:
            try:
                os.write(fd, chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
                break
    finally:
        os.close(fd)
    return filler


def test_full_disk(tmp_path, target, tag):
    with tmpfs(tmp_path / "disk", "8m") as disk:
        filler = disk / "filler"
        exercise(tmp_path, target, tag, disk / "pharos.db",
                 start_fault=lambda: fill(disk),
                 end_fault=lambda: filler.unlink(missing_ok=True),
                 error_words="disk is full")


def test_io_error(tmp_path, target, tag):
    shim = tmp_path / "io_fault.so"
    source = Path(__file__).resolve().parents[1] / "support" / "io_fault.c"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(source), "-ldl"], check=True)
    disk = tmp_path / "disk"
    disk.mkdir()
    trigger = tmp_path / "io-fault-on"
    env = {"LD_PRELOAD": str(shim), "PHAROS_IO_FAULT_DIR": str(disk),
           "PHAROS_IO_FAULT_TRIGGER": str(trigger)}
    exercise(tmp_path, target, tag, disk / "pharos.db",
             start_fault=trigger.touch,
             end_fault=lambda: trigger.unlink(missing_ok=True),
             error_words="disk I/O error", env=env)


class DatabaseLock:
    """Another process holding BEGIN EXCLUSIVE on `db` (Python's sqlite3) from lock() to
    unlock()."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.holders: list[subprocess.Popen] = []

    def lock(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys\n"
             "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
             "con.execute('BEGIN EXCLUSIVE')\n"
             "print('locked', flush=True)\n"
             "sys.stdin.read()\n", str(self.db)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.holders.append(process)
        assert process.stdout.readline().strip() == "locked"

    def unlock(self) -> None:
        while self.holders:
            process = self.holders.pop()
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, 9)
                process.wait()


def test_locked_database(tmp_path, target, tag):
    db = tmp_path / "pharos.db"
    lock = DatabaseLock(db)
    exercise(tmp_path, target, tag, db, start_fault=lock.lock, end_fault=lock.unlock,
             error_words="database is locked")


def test_notifications_of_an_outage_during_a_store_fault(tmp_path, target, tag, receiver):
    """The incidents and the notification outbox live in the same database. A monitor goes Down
    while nothing can be written (the outbox write of its `down` notice fails): once the store is
    back, its incident is on record and the `down` webhook is sent exactly once, by the alerting
    engine's catch-up; the recovery after it is sent exactly once too."""
    db = tmp_path / "pharos.db"
    flip = f"{tag}-notify"
    target.set_state(flip, 200, "ok")
    rules = {"failureThreshold": 1, "successThreshold": 1, "channels": ["ops-hook"]}
    docs = [pharos.monitor("flip", "http", namespace="shop", frequency="10s", timeout="2s",
                           http={"url": target.url(f"/state/{flip}")}, alerting=rules),
            {"apiVersion": pharos.API_VERSION, "kind": "AlertChannel",
             "metadata": {"name": "ops-hook", "namespace": "shop"},
             "spec": {"type": "webhook", "webhook": {"url": receiver.url("/hook")}}}]
    path = pharos.write_monitors(tmp_path / "monitors", docs)
    run = PharosRun(tmp_path, [path], db=db,
                    extra_args=("--alerting-interval", "500ms", "--notification-backoff",
                                "200ms", "--notification-backoff-max", "1s"))
    lock = DatabaseLock(db)
    try:
        run.wait_states({"flip": "Up"}, timeout=60)
        lock.lock()
        try:
            target.set_state(flip, 500, "broken")
            pharos.wait_for(lambda: run.metric("pharos_store_up") == 0, timeout=60,
                            message="pharos_store_up to drop to 0")
            run.wait_states({"flip": "Down"}, timeout=60)
            # The fault reaches the notifications themselves: the `down` notice cannot be
            # written to the outbox when it is decided.
            pharos.wait_for(lambda: log_lines(run, "writing notifications to the outbox failed"),
                            timeout=60, message="the outbox write to fail")
        finally:
            lock.unlock()

        down = receiver.wait_for(lambda r: r.requests("/hook"), timeout=60,
                                 message="the down webhook once the store is back")
        assert down[0].json()["event"] == "down", down[0].json()
        incident_id = down[0].json()["incident"]["id"]
        target.set_state(flip, 200, "ok")
        receiver.wait_for(lambda r: len(r.requests("/hook")) >= 2, timeout=60,
                          message="the recovered webhook")
        assert run.stop() == 0, run.output()
    finally:
        lock.unlock()
        run.kill()

    # After a clean stop nothing more can arrive: one notice of each kind, each its own delivery.
    payloads = [request.json() for request in receiver.requests("/hook")]
    assert [p["event"] for p in payloads] == ["down", "recovered"], payloads
    assert len({p["deliveryId"] for p in payloads}) == 2, payloads
    assert {p["incident"]["id"] for p in payloads} == {incident_id}, payloads
    with sqlite3.connect(db) as con:
        incidents = con.execute(
            "SELECT id, resolved_at_ms FROM incidents WHERE monitor_key LIKE '%flip'").fetchall()
    assert len(incidents) == 1 and incidents[0][1] is not None, incidents
