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


def test_locked_database(tmp_path, target, tag):
    db = tmp_path / "pharos.db"
    holder: list[subprocess.Popen] = []

    def lock() -> None:
        process = subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys\n"
             "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
             "con.execute('BEGIN EXCLUSIVE')\n"
             "print('locked', flush=True)\n"
             "sys.stdin.read()\n", str(db)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holder.append(process)
        assert process.stdout.readline().strip() == "locked"

    def unlock() -> None:
        for process in holder:
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, 9)
                process.wait()

    exercise(tmp_path, target, tag, db, start_fault=lock, end_fault=unlock,
             error_words="database is locked")
