"""Push (heartbeat) monitors end to end: `pharos run` with push monitors, pinged with curl at
/api/v1/push/{token}[/start|/fail], its state followed through the JSON API.

* the token is generated, shown in /api/v1/monitors/{ns}/{name} and the same after a restart
  (kept in the SQLite file), or read from the environment (spec.push.tokenFrom.env);
* a monitor goes Down when a ping is late (the control plane's clock) and Up on the next ping;
* /start then a success ping records the run time as the result's latency; a run past
  maxRunTime is Down; /fail is Down;
* an unknown token is a 404 whose body names nothing.

Contract: docs/monitor-reference.md#specpush, docs/api.md#push.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
from pharos_run import PharosRun  # noqa: E402

MONITORS = """\
apiVersion: pharos.dev/v1alpha1
kind: Monitor
metadata: {name: heartbeat, namespace: jobs}
spec:
  type: push
  push: {expectEvery: 5s, grace: 0s}
---
apiVersion: pharos.dev/v1alpha1
kind: Monitor
metadata: {name: backup, namespace: jobs}
spec:
  type: push
  push: {expectEvery: 1h, grace: 1h, maxRunTime: 1s}
---
apiVersion: pharos.dev/v1alpha1
kind: Monitor
metadata: {name: keyed, namespace: jobs}
spec:
  type: push
  push:
    expectEvery: 1h
    tokenFrom: {env: PHAROS_TEST_PING_TOKEN}
"""
# The token of jobs/keyed, given to pharos run in its environment (spec.push.tokenFrom.env).
KEYED_TOKEN = "keyed-token-from-the-environment-0123"


def curl(url: str, method: str = "POST") -> tuple[int, str]:
    """Pings like a cron job would: curl, status code and body."""
    done = subprocess.run(["curl", "-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}",
                           "--max-time", "20", url],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


@pytest.fixture
def files(tmp_path: Path) -> Path:
    path = tmp_path / "monitors.yaml"
    path.write_text(MONITORS)
    return path


@pytest.fixture
def run(tmp_path: Path, files: Path):
    pharos_run = PharosRun(tmp_path, [files], env={"PHAROS_TEST_PING_TOKEN": KEYED_TOKEN})
    yield pharos_run
    pharos_run.kill()


def token_of(run: PharosRun, name: str) -> str:
    monitor = run.json(f"/api/v1/monitors/jobs/{name}")
    push = monitor["push"]
    assert push["pingUrl"] == "/api/v1/push/" + push["token"]
    return push["token"]


def results(run: PharosRun, name: str) -> list[dict]:
    return run.json(f"/api/v1/monitors/jobs/{name}/results")["results"]


def test_a_late_ping_makes_the_monitor_down_and_the_next_one_up(run: PharosRun):
    token = token_of(run, "heartbeat")
    assert len(token) >= 32
    assert run.monitors()["heartbeat"]["state"] == "Pending"

    code, body = curl(f"{run.base}/api/v1/push/{token}")
    assert code == 200, body
    assert json.loads(body) == {"ping": "success", "outcome": "up"}
    # The answer comes once the result is stored and judged: the state is Up already.
    assert run.monitors()["heartbeat"]["state"] == "Up"

    down = run.wait_states({"heartbeat": "Down"}, timeout=60)["heartbeat"]
    assert "no ping within expectEvery 5s + grace 0s" in down["reason"], down
    assert down["incident"] is not None

    code, body = curl(f"{run.base}/api/v1/push/{token}", method="GET")
    assert code == 200, body
    up = run.monitors()["heartbeat"]
    assert up["state"] == "Up", up
    assert up["incident"] is None

    stored = results(run, "heartbeat")  # newest first
    assert [r["outcome"] for r in stored][:3] == ["up", "down", "up"]
    assert stored[1]["failedAssertion"]["type"] == "missed"
    assert {r["region"] for r in stored} == {"push"}

    metrics = run.request("/metrics")[2].decode()
    assert ('pharos_check_results_total{namespace="jobs",monitor="heartbeat",region="push",'
            'outcome="down"}') in metrics


def test_start_and_finish_record_the_run_time_and_max_run_time_fails_it(run: PharosRun):
    token = token_of(run, "backup")
    base = f"{run.base}/api/v1/push/{token}"

    assert curl(base + "/start") == (200, '{"ping":"start"}')
    code, body = curl(base)
    assert code == 200, body
    answer = json.loads(body)
    assert answer["outcome"] == "up" and 0 <= answer["runTimeMs"] < 1000, answer
    assert run.monitors()["backup"]["state"] == "Up"
    assert results(run, "backup")[0]["timings"]["totalUs"] == answer["runTimeMs"] * 1000

    # A run that is still going when maxRunTime is over: Down by the control plane's clock.
    assert curl(base + "/start")[0] == 200
    down = run.wait_states({"backup": "Down"}, timeout=60)["backup"]
    assert "has not finished within maxRunTime 1s" in down["reason"], down
    assert results(run, "backup")[0]["failedAssertion"]["type"] == "maxRunTime"

    # The late end of that run is down too; a run in time brings the monitor back.
    code, body = curl(base)
    assert code == 200 and json.loads(body)["outcome"] == "down", body
    assert curl(base + "/start")[0] == 200
    code, body = curl(base)
    assert code == 200 and json.loads(body)["outcome"] == "up", body
    assert run.monitors()["backup"]["state"] == "Up"

    code, body = curl(base + "/fail")
    assert code == 200, body
    assert json.loads(body)["outcome"] == "down"
    failed = run.monitors()["backup"]
    assert failed["state"] == "Down"
    assert "the job reported a failure" in failed["reason"]


def test_an_unknown_token_is_a_404_that_reveals_nothing(run: PharosRun):
    real = token_of(run, "backup")
    for path in ("", "/start", "/fail"):
        for token in ("0" * len(real), real[:-1], real + "0", "nope"):
            code, body = curl(f"{run.base}/api/v1/push/{token}{path}")
            assert code == 404, (token, path, body)
            assert json.loads(body) == {"error": "not found"}
    assert run.monitors()["backup"]["state"] == "Pending"
    assert results(run, "backup") == []


def test_a_token_from_the_environment_is_used_as_given(run: PharosRun):
    assert token_of(run, "keyed") == KEYED_TOKEN
    code, body = curl(f"{run.base}/api/v1/push/{KEYED_TOKEN}")
    assert code == 200, body
    assert run.monitors()["keyed"]["state"] == "Up"


def test_the_token_survives_a_restart(tmp_path: Path, files: Path):
    env = {"PHAROS_TEST_PING_TOKEN": KEYED_TOKEN}
    first = PharosRun(tmp_path, [files], env=env)
    try:
        token = token_of(first, "backup")
        other = token_of(first, "heartbeat")
        assert token != other
    finally:
        assert first.stop() == 0, first.output()
    second = PharosRun(tmp_path, [files], env=env)
    try:
        assert token_of(second, "backup") == token
        code, body = curl(f"{second.base}/api/v1/push/{token}")
        assert code == 200, body
        second.wait_states({"backup": "Up"}, timeout=30)
        log = (second.stdout_path.read_text() + second.stderr_path.read_text()
               + first.stdout_path.read_text() + first.stderr_path.read_text())
        for secret in (token, other, KEYED_TOKEN):
            assert secret not in log, "a ping token was logged"
    finally:
        second.kill()
