"""Push (heartbeat) monitors end to end: `pharos run` with push monitors, pinged with curl at
/api/v1/push/{token}[/start|/fail], its state followed through the JSON API.

* the token is generated, shown in /api/v1/monitors/{ns}/{name} and the same after a restart
  (kept in the SQLite file), or read from the environment (spec.push.tokenFrom.env);
* a monitor goes Down when a ping is late (the control plane's clock) and Up on the next ping;
* /start then a success ping records the run time as the result's latency; a run past
  maxRunTime is Down; /fail is Down;
* latency assertions are judged on that run time, in the probe's words; a ping without /start
  has no run time and cannot break them;
* an unknown token is a 404 whose body names nothing; an address that sent 10 is held back (429)
  before any lookup, as the other bearer-token APIs.

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
metadata: {name: nightly, namespace: jobs}
spec:
  type: push
  push: {expectEvery: 1h, grace: 1h}
  # No run of this test lasts 24h: the first always holds and the second always fails, whatever
  # the machine's speed, so the outcome is exact and the message is built from the recorded time.
  assertions:
    - {type: latency, op: lt, value: 24h}
    - {type: latency, op: gt, value: 24h}
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


def micros_text(us: int) -> str:
    """A run time as the probe and the control plane write it (common/duration_text.h), under 1m."""
    assert 0 <= us < 60_000_000, us
    if us < 1000:
        return f"{us}us"
    if us < 1_000_000:
        return f"{us / 1e3:.3f}".rstrip("0").rstrip(".") + "ms"
    return f"{us / 1e6:.3f}".rstrip("0").rstrip(".") + "s"


def test_latency_assertions_judge_the_run_time(run: PharosRun):
    base = f"{run.base}/api/v1/push/{token_of(run, 'nightly')}"

    # Without /start there is no run time: the assertions cannot fail.
    code, body = curl(base)
    assert code == 200, body
    assert json.loads(body) == {"ping": "success", "outcome": "up"}
    assert run.monitors()["nightly"]["state"] == "Up"

    # A measured run breaks `gt 24h`; the message is the probe's for a check's latency.
    assert curl(base + "/start")[0] == 200
    code, body = curl(base)
    assert code == 200, body
    answer = json.loads(body)
    run_time = micros_text(answer["runTimeMs"] * 1000)
    expected_message = f"latency is {run_time}, expected gt 24h"
    assert answer == {"ping": "success", "outcome": "down", "runTimeMs": answer["runTimeMs"],
                      "message": expected_message}, answer
    down = run.monitors()["nightly"]
    assert down["state"] == "Down", down
    assert expected_message in down["reason"], down
    stored = results(run, "nightly")[0]
    assert stored["outcome"] == "down"
    assert stored["timings"]["totalUs"] == answer["runTimeMs"] * 1000
    assert stored["failedAssertion"] == {"type": "latency", "expected": "gt 24h",
                                         "actual": run_time, "message": expected_message}

    # The next ping without a run brings it back; a /fail is down for its own reason.
    code, body = curl(base)
    assert code == 200 and json.loads(body)["outcome"] == "up", body
    assert run.monitors()["nightly"]["state"] == "Up"
    assert curl(base + "/start")[0] == 200
    code, body = curl(base + "/fail")
    assert code == 200, body
    assert results(run, "nightly")[0]["failedAssertion"]["type"] == "fail"


def test_an_unknown_token_is_a_404_that_reveals_nothing(run: PharosRun):
    real = token_of(run, "backup")
    guesses = [(token, path) for path in ("", "/start", "/fail")
               for token in ("0" * len(real), real[:-1], real + "0", "nope")]
    # An address may send 10 unknown tokens in a row (docs/security.md#bearer-tokens)...
    for token, path in guesses[:10]:
        code, body = curl(f"{run.base}/api/v1/push/{token}{path}")
        assert code == 404, (token, path, body)
        assert json.loads(body) == {"error": "not found"}
    # ...then it is held back before any token is looked at, even the right one.
    for token, path in [*guesses[10:], (real, "")]:
        code, body = curl(f"{run.base}/api/v1/push/{token}{path}")
        assert code == 429, (token, path, body)
        assert "too many requests with a wrong token" in json.loads(body)["error"]
    assert run.metric("pharos_auth_failures_total") == 10
    assert run.metric("pharos_auth_throttled_total") == len(guesses) - 10 + 1
    assert run.monitors()["backup"]["state"] == "Pending"
    assert results(run, "backup") == []


def test_a_token_from_the_environment_is_used_as_given(run: PharosRun):
    # It is a secret kept in the environment: the API never shows it (docs/api.md).
    assert run.json("/api/v1/monitors/jobs/keyed")["push"] == {"tokenLoaded": True}
    assert KEYED_TOKEN not in run.request("/api/v1/monitors")[2].decode()
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
