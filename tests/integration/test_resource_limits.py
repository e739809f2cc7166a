"""A probe at its file-descriptor limit: `pharos run` (in-process probe, `--concurrency 1000`, far
more than the descriptors it may open) gets its soft RLIMIT_NOFILE lowered below what it already
has open, with `prlimit --pid`, while it runs. Every check that needs a socket then fails: each is
recorded as outcome `error` naming the cause ("the probe ran out of file descriptors"), never as
`down`, and no monitor leaves Up. When the limit is raised again, checks pass again and the HTTP
server (which could not accept connections meanwhile) answers again.

Contract: docs/testing.md ("Fault injection"), docs/monitoring.md.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import time

import pharos
from pharos_run import PharosRun

MONITORS = 12


def rows(db, sql: str, *args) -> int:
    with sqlite3.connect(db, timeout=10) as con:
        return con.execute(sql, args).fetchone()[0]


def test_checks_at_the_descriptor_limit_are_probe_errors_and_recover(tmp_path, target, tag):
    names = [f"fd-{i}" for i in range(MONITORS)]
    # Connection: close, so that every check opens a new socket instead of reusing one.
    docs = [pharos.monitor(name, "http", frequency="10s", timeout="2s",
                           http={"url": target.url(f"/status/200?tag={tag}-{name}"),
                                 "headers": {"Connection": "close"}},
                           alerting={"failureThreshold": 1, "successThreshold": 1})
            for name in names]
    path = pharos.write_monitors(tmp_path / "monitors", docs)
    run = PharosRun(tmp_path, [path], extra_args=("--concurrency", "1000"))
    pid = str(run.process.pid)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        run.wait_states({name: "Up" for name in names}, timeout=60)
        limited_ms = int(time.time() * 1000)
        # Descriptors already open stay usable; any new one fails with EMFILE. (A limit at the
        # number of open descriptors would not do: a new descriptor takes the lowest free
        # number, and closed check sockets leave free numbers below it.)
        subprocess.run(["prlimit", "--pid", pid, f"--nofile=3:{hard}"], check=True)
        try:
            # The API cannot accept connections now: watch the database instead.
            pharos.wait_for(
                lambda: rows(run.db, "SELECT count(*) FROM results WHERE outcome = 'error'"
                             " AND error LIKE '%ran out of file descriptors%'"
                             " AND scheduled_at_ms >= ?", limited_ms) >= MONITORS,
                timeout=60, message="a round of checks failing as probe errors")
        finally:
            subprocess.run(["prlimit", "--pid", pid, f"--nofile={hard}:{hard}"], check=True)
        restored_ms = int(time.time() * 1000)

        pharos.wait_for(
            lambda: rows(run.db, "SELECT count(*) FROM results WHERE outcome = 'up'"
                         " AND scheduled_at_ms > ?", restored_ms) >= MONITORS,
            timeout=60, message="a round of passing checks after the limit was raised")
        monitors = run.monitors()  # the HTTP server accepts connections again
        assert {name: monitors[name]["state"] for name in names} == \
            {name: "Up" for name in names}, monitors
        assert run.metric("pharos_probe_checks_total") > 0
        assert run.stop() == 0, run.output()
    finally:
        run.kill()
    assert rows(run.db, "SELECT count(*) FROM results WHERE outcome = 'down'") == 0
    assert not [line for line in run.logs()
                if line.get("msg") == "monitor state changed" and line.get("to") != "Up"], \
        run.output()
