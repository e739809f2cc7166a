"""`pharos run` end to end against the local target server: monitors become Up and Down, the JSON
API and /metrics (checked with promtool) tell it, file edits change the monitor set, an invalid
edit keeps the last good set, SIGTERM exits 0, and a restart on the same database resumes the
states instead of starting from Pending.

Contract: docs/standalone.md, docs/api.md, docs/monitoring.md, docs/probe-protocol.md.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

import pharos
from pharos_run import PharosRun


def http_monitor(name: str, url: str, **spec) -> dict:
    return pharos.monitor(name, "http", frequency="10s", timeout="3s", http={"url": url},
                          alerting={"failureThreshold": 1, "successThreshold": 1}, **spec)


@pytest.fixture
def start(pharos_executable, target, tmp_path):
    runs: list[PharosRun] = []

    def starter(paths: list[Path], *extra_args: str) -> PharosRun:
        run = PharosRun(tmp_path, paths, env={"PHAROS_CA_FILE": target.ca_file},
                        extra_args=extra_args, executable=pharos_executable, cwd=tmp_path)
        runs.append(run)
        return run

    yield starter
    for run in runs:
        run.kill()


def test_standalone_lifecycle(start, target, tmp_path, tag):
    monitors_file = pharos.write_monitors(tmp_path, [
        http_monitor("shop-up", target.url(f"/status/200?tag={tag}")),
        http_monitor("shop-down", target.url(f"/status/503?tag={tag}")),
    ])
    run = start([monitors_file])

    # Readiness, then states from real checks.
    assert pharos.wait_for(lambda: run.get("/readyz").status_code == 200, timeout=10)
    assert run.get("/healthz").json() == {"status": "ok"}
    monitors = run.wait_states({"shop-up": "Up", "shop-down": "Down"}, exact=True)
    up, down = monitors["shop-up"], monitors["shop-down"]
    assert up["regions"][0]["name"] == "local"
    assert up["regions"][0]["statusCode"] == 200
    assert up["lastCheckTime"]
    assert down["incident"] and down["incident"]["id"]
    assert down["regions"][0]["statusCode"] == 503
    assert target.count(tag) >= 2

    detail = run.get("/api/v1/monitors/default/shop-down").json()
    assert detail["state"] == "Down"
    results = run.get("/api/v1/monitors/default/shop-down/results", params={"limit": 5}).json()
    assert results["results"] and results["results"][0]["outcome"] == "down"
    assert run.get("/api/v1/monitors/default/shop-down/results",
                   params={"since": "yesterday"}).status_code == 400
    assert run.get("/api/v1/monitors/default/nope").status_code == 404
    incidents = run.get("/api/v1/incidents", params={"open": "true"}).json()["incidents"]
    assert [incident["name"] for incident in incidents] == ["shop-down"]

    # Uptime is computed shortly after results arrive.
    def uptime_known():
        return run.monitors()["shop-up"]["uptime"]["last24h"] == 100
    pharos.wait_for(uptime_known, timeout=30, interval=0.5, message="uptime of shop-up")

    # /metrics is valid for promtool and carries the monitor series.
    metrics = run.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    checked = subprocess.run(["promtool", "check", "metrics"], input=metrics.text, text=True,
                             capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert 'pharos_monitor_up{namespace="default",monitor="shop-up"} 1' in metrics.text
    assert 'pharos_monitor_state{namespace="default",monitor="shop-down",state="Down"} 1' \
        in metrics.text
    assert 'pharos_probes_connected{region="local"} 1' in metrics.text
    assert "pharos_leader 1" in metrics.text
    # The in-process probe exports the pharos_probe_* families of pharos-probe.
    for family in ["pharos_probe_checks_in_flight", "pharos_probe_capacity",
                   "pharos_probe_results_pending", "pharos_probe_checks_total",
                   "pharos_probe_operator_errors_total"]:
        assert f"# TYPE {family} " in metrics.text, family
    assert "pharos_probe_capacity 256" in metrics.text
    assert re.search(r'^pharos_probe_checks_total\{outcome="up"\} [1-9]', metrics.text, re.M)
    assert re.search(r'^pharos_probe_checks_total\{outcome="down"\} [1-9]', metrics.text, re.M)

    # Without --probe-token-file external probes are refused.
    refused = requests.post(run.base + "/api/v1/work/lease", timeout=10,
                            json={"name": "p", "region": "local"},
                            headers={"Authorization": "Bearer guess"})
    assert refused.status_code == 401

    # Editing the file changes the set: shop-down removed, shop-new added.
    pharos.write_monitors(tmp_path, [
        http_monitor("shop-up", target.url(f"/status/200?tag={tag}")),
        http_monitor("shop-new", target.url(f"/status/200?tag={tag}")),
    ])
    run.wait_states({"shop-up": "Up", "shop-new": "Up"}, exact=True)
    assert 'monitor="shop-down"' not in run.get("/metrics").text

    # An invalid edit is logged with its location and changes nothing.
    monitors_file.write_text(monitors_file.read_text().replace("frequency: 10s",
                                                               "frequency: 7s", 1))

    def invalid_logged():
        return any(line.get("msg") == "invalid monitor file" and "monitors.yaml:" in
                   line.get("error", "") for line in run.logs())
    pharos.wait_for(invalid_logged, timeout=30, interval=0.2, message="the invalid file logged")
    assert set(run.monitors()) == {"shop-up", "shop-new"}

    assert run.stop() == 0, run.output()
    assert any(line.get("msg", "").startswith("stopped cleanly") for line in run.logs())

    # Restart on the same database with the original files: states resume, never Pending.
    pharos.write_monitors(tmp_path, [
        http_monitor("shop-up", target.url(f"/status/200?tag={tag}")),
        http_monitor("shop-down", target.url(f"/status/503?tag={tag}")),
    ])
    again = start([monitors_file])
    monitors = again.monitors()
    assert monitors["shop-up"]["state"] == "Up", monitors
    # shop-down was removed while running (its state forgotten): it starts fresh.
    assert monitors["shop-down"]["state"] in ("Pending", "Down"), monitors
    again.wait_states({"shop-up": "Up", "shop-down": "Down"}, exact=True)
    assert again.stop() == 0, again.output()


def test_without_path_runs_monitors_yaml_of_the_working_directory(start, target, tmp_path):
    pharos.write_monitors(tmp_path, [http_monitor("cwd-up", target.url("/status/200"))])
    run = start([])
    run.wait_states({"cwd-up": "Up"}, exact=True)
    assert "no PATH given: running the Monitors in ./monitors.yaml" in run.stdout_path.read_text()
    assert run.stop() == 0


def test_restart_resumes_down_with_its_incident(start, target, tmp_path, tag):
    monitors_file = pharos.write_monitors(tmp_path, [
        http_monitor("api", target.url(f"/status/500?tag={tag}")),
    ])
    run = start([monitors_file])
    incident = run.wait_states({"api": "Down"}, exact=True)["api"]["incident"]
    assert run.stop(signal.SIGINT) == 0, run.output()

    again = start([monitors_file])
    restored = again.monitors()["api"]
    assert restored["state"] == "Down"
    assert restored["incident"] == incident
    assert again.stop() == 0


def test_probe_api_with_token_file(start, target, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("# tokens\neu-west=eu-secret-token\n")
    monitors_file = pharos.write_monitors(tmp_path, [
        http_monitor("eu-api", target.url("/status/200"), regions=["eu-west"]),
    ])
    run = start([monitors_file], "--probe-token-file", str(tokens))

    def post(path: str, body, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(run.base + path, json=body, headers=headers, timeout=40)

    eu = {"name": "probe-eu-1", "region": "eu-west"}
    assert post("/api/v1/probes/register", eu, None).status_code == 401
    assert post("/api/v1/probes/register", eu, "wrong").status_code == 401
    assert post("/api/v1/probes/register", {"name": "p", "region": "us-east"},
                "eu-secret-token").status_code == 403
    bad = post("/api/v1/work/lease", {**eu, "max": "ten"}, "eu-secret-token")
    assert bad.status_code == 400 and "max" in bad.json()["error"]
    assert post("/api/v1/probes/register", eu, "eu-secret-token").status_code == 200

    # A long-poll answers with the item once it is due (10 s monitors: within 20 s).
    deadline = time.monotonic() + 40
    items = []
    while not items and time.monotonic() < deadline:
        lease = post("/api/v1/work/lease", {**eu, "max": 10, "waitSeconds": 20},
                     "eu-secret-token")
        assert lease.status_code == 200, lease.text
        items = lease.json()["items"]
        monitors = lease.json()["monitors"]
    assert items, "no work within 40 s"
    item = items[0]
    assert monitors[item["monitorUid"]]["spec"]["http"]["url"] == target.url("/status/200")

    result = {"itemId": item["id"], "uid": item["monitorUid"], "generation": item["generation"],
              "region": "eu-west", "probe": "probe-eu-1", "scheduledAt": item["scheduledAt"],
              "startedAt": item["scheduledAt"], "outcome": "up", "statusCode": 200,
              "timings": {"totalUs": 1500}}
    answer = post("/api/v1/work/results", {**eu, "results": [result]}, "eu-secret-token")
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == [item["id"]]
    again = post("/api/v1/work/results", {**eu, "results": [result]}, "eu-secret-token")
    assert again.json()["duplicates"] == [item["id"]]
    run.wait_states({"eu-api": "Up"}, timeout=10, exact=True)

    assert run.stop() == 0
    assert "eu-secret-token" not in run.stderr_path.read_text(), "a token was logged"
