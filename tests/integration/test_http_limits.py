"""The HTTP server of `pharos run` under a slowloris flood (issue #15): two client processes hold
~20,000 idle, half-open connections (a request line and a header, never finished) on loopback.
Throughout, `/healthz` answers within 1 s, the in-process probe's checks keep succeeding with no
probe error, and the server closes the held connections itself (header timeout, or the oldest
waiting one when the connection cap is reached) while the clients still hold them.

Contract: docs/api.md ("Connection limits"), docs/standalone.md.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pharos
from pharos_run import PharosRun

SUPPORT_DIR = Path(__file__).resolve().parents[1] / "support"
CLIENT_PROCESSES = 2
CONNECTIONS_PER_CLIENT = 10_000
# The flood lasts until every held connection was closed by the server; the default header
# timeout is 10 s, so this leaves ample room on a loaded machine while bounding a failing run.
FLOOD_DEADLINE_S = 75
HEALTH_DEADLINE_S = 1.0


def health_within_deadline(port: int) -> tuple[bool, float, str]:
    """One GET /healthz on a fresh connection: (answered 200 in time, seconds taken, detail)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HEALTH_DEADLINE_S)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        body = response.read()
        elapsed = time.monotonic() - started
        ok = response.status == 200 and elapsed <= HEALTH_DEADLINE_S
        return ok, elapsed, f"{response.status} {body[:200]!r}"
    except OSError as error:
        return False, time.monotonic() - started, repr(error)
    finally:
        connection.close()


def read_status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def utc_now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@pytest.fixture
def run(pharos_executable, target, tmp_path):
    runs: list[PharosRun] = []

    def starter(paths: list[Path], *extra_args: str) -> PharosRun:
        started = PharosRun(tmp_path, paths, env={"PHAROS_CA_FILE": target.ca_file},
                            extra_args=extra_args, executable=pharos_executable)
        runs.append(started)
        return started

    yield starter
    for started in runs:
        started.stop()


@pytest.fixture
def flood(tmp_path):
    processes: list[subprocess.Popen] = []

    def start(port: int) -> list[Path]:
        status_files = []
        for index in range(CLIENT_PROCESSES):
            status_file = tmp_path / f"clients-{index}.json"
            processes.append(subprocess.Popen(
                [sys.executable, str(SUPPORT_DIR / "half_open_clients.py"), "--port", str(port),
                 "--count", str(CONNECTIONS_PER_CLIENT), "--status-file", str(status_file)],
                start_new_session=True))
            status_files.append(status_file)
        return status_files

    yield start
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_slowloris_flood_does_not_starve_health_checks_or_the_probe(run, flood, target, tmp_path,
                                                                   tag):
    # 30 monitors of the shortest frequency class (10 s): about three checks a second.
    names = [f"flood-{index}" for index in range(30)]
    monitors = pharos.write_monitors(tmp_path, [
        pharos.monitor(name, "http", namespace="limits", frequency="10s", timeout="5s",
                       http={"url": target.url(f"/status/200?tag={tag}-{name}")})
        for name in names])
    server = run([monitors])
    pharos.wait_for(lambda: all(server.get(f"/api/v1/monitors/limits/{name}").json()
                                .get("state") == "Up" for name in names),
                    timeout=60, interval=0.2, message="the monitors to be Up before the flood")

    flood_started = utc_now()
    status_files = flood(server.port)
    deadline = time.monotonic() + FLOOD_DEADLINE_S
    health: list[tuple[bool, float, str]] = []
    peak_held = 0
    statuses: list[dict] = []
    while time.monotonic() < deadline:
        health.append(health_within_deadline(server.port))
        statuses = [read_status(path) for path in status_files]
        peak_held = max(peak_held, sum(status.get("held", 0) for status in statuses))
        if all(status.get("done_opening") and status["held"] == 0 for status in statuses):
            break
        time.sleep(0.2)
    flood_ended = utc_now()
    assert server.process.poll() is None, "pharos run died during the flood\n" + server.output()

    opened = sum(status.get("opened", 0) for status in statuses)
    closed_by_server = sum(status.get("closed_by_server", 0) for status in statuses)
    failures = [entry for entry in health if not entry[0]]
    assert not failures, (
        f"{len(failures)} of {len(health)} /healthz requests failed or took over "
        f"{HEALTH_DEADLINE_S} s during the flood (first: {failures[:5]}); clients: {statuses}\n"
        + server.output())
    assert len(health) >= 10, f"too few /healthz samples: {health}"
    assert opened >= 0.95 * CLIENT_PROCESSES * CONNECTIONS_PER_CLIENT, statuses
    assert peak_held >= 5_000, f"the flood never held many connections at once: {statuses}"
    # Every connection the clients held was closed by the server, not by the clients.
    assert closed_by_server == opened, (
        f"the server left {opened - closed_by_server} half-open connections open after "
        f"{FLOOD_DEADLINE_S} s: {statuses}\n" + server.output())

    # The in-process probe kept checking, and every check during the flood succeeded.
    checked = 0
    for name in names:
        response = server.get(f"/api/v1/monitors/limits/{name}/results?since={flood_started}"
                              f"&limit=1000")
        assert response.status_code == 200, response.text
        during = [result for result in response.json()["results"]
                  if result["scheduledAt"] <= flood_ended]
        checked += len(during)
        bad = [result for result in during if result["outcome"] != "up"]
        assert not bad, f"{name}: checks failed during the flood: {bad[:3]}\n" + server.output()
    assert checked >= len(names), f"only {checked} checks ran during the flood"
    log = server.stderr_path.read_text()
    assert "probe error" not in log and "file descriptors" not in log, server.output()

    # The server says why it closed them: header timeouts, and the cap (oldest waiting first).
    metrics = server.get("/metrics").text
    closed = {match.group(1): float(match.group(2)) for match in re.finditer(
        r'^pharos_http_connections_closed_total\{reason="([a-z_]+)"\} (\S+)$', metrics, re.M)}
    assert closed.get("header_timeout", 0) > 0, closed
    assert sum(closed.values()) >= closed_by_server, closed
