"""`pharos-probe` as a process: flag validation, --help/--version, its HTTP endpoints, and a clean
exit on SIGTERM/SIGINT, all without an operator (the operator + probe suites run both).

Contract (docs/probe.md): required --operator URL (http/https), --region (DNS label) and
--token-file (readable, non-empty); a wrong flag exits 2 naming it. /healthz is 200 while the
loops run and tells the last operator error; /readyz is 503 until the probe has registered;
/metrics is valid Prometheus text with the probe's metrics (docs/monitoring.md); SIGTERM exits 0.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import pharos

PROBE_METRICS = ["pharos_probe_checks_in_flight", "pharos_probe_capacity",
                 "pharos_probe_results_pending", "pharos_probe_checks_total",
                 "pharos_probe_operator_errors_total", "pharos_probe_results_dropped_total",
                 "pharos_build_info"]


@pytest.fixture
def token_file(tmp_path) -> Path:
    path = tmp_path / "token"
    path.write_text("s3cret-probe-token\n")
    return path


def probe_args(token_file: Path, operator: str = "http://127.0.0.1:1", **flags) -> list[str]:
    args = [str(pharos.binary("pharos-probe")), "--operator", operator, "--region", "eu-west",
            "--token-file", str(token_file)]
    for name, value in flags.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_help_lists_every_flag():
    done = pharos.run([pharos.binary("pharos-probe"), "--help"])
    assert done.returncode == 0, done.describe()
    for flag in ["--operator", "--region", "--token-file", "--name", "--concurrency", "--listen",
                 "--ca-file", "--insecure-skip-verify", "--drain-timeout", "--log-format",
                 "--log-level", "--max-pending-results", "--target-ca-file", "--version"]:
        assert flag in done.stdout, flag


def test_version():
    done = pharos.run([pharos.binary("pharos-probe"), "--version"])
    assert done.returncode == 0
    assert done.stdout.startswith("pharos-probe ")


@pytest.mark.parametrize("change, expected", [
    ({"operator": None}, "--operator is required"),
    ({"operator": "ftp://operator"}, "must start with http:// or https://"),
    ({"operator": "http://"}, "has no host"),
    ({"region": "EU_West"}, "--region"),
    ({"token_file": "/nonexistent/token"}, "/nonexistent/token"),
    ({"token_file": "EMPTY"}, "is empty"),
    ({"concurrency": "0"}, "--concurrency"),
    ({"concurrency": "many"}, "--concurrency"),
    ({"drain_timeout": "soon"}, "--drain-timeout"),
    ({"listen": "9091"}, "--listen"),
    ({"ca_file": "/nonexistent/ca.pem"}, "--ca-file"),
    ({"target_ca_file": "/nonexistent/ca.pem"}, "--target-ca-file"),
    ({"log_format": "xml"}, "--log-format"),
    ({"log_level": "loud"}, "--log-level"),
    ({"name": "a name with spaces"}, "--name"),
    ({"bogus": "1"}, "--bogus"),
])
def test_bad_flags_exit_2_naming_the_flag(tmp_path, token_file, change, expected):
    flags = {"operator": "http://127.0.0.1:1", "region": "eu-west", "token_file": str(token_file)}
    for name, value in change.items():
        if value == "EMPTY":
            empty = tmp_path / "empty"
            empty.write_text("  \n")
            value = str(empty)
        if value is None:
            flags.pop(name)
        else:
            flags[name] = value
    args = [str(pharos.binary("pharos-probe"))]
    for name, value in flags.items():
        args += [f"--{name.replace('_', '-')}", value]
    done = pharos.run(args, timeout=30)
    assert done.returncode == 2, done.describe()
    assert expected in done.stderr, done.describe()
    assert "s3cret-probe-token" not in done.output


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_runs_without_an_operator_and_stops_cleanly(token_file, stop_signal):
    port = pharos.free_port()
    operator_port = pharos.free_port()  # nothing listens there
    process = subprocess.Popen(
        probe_args(token_file, operator=f"http://127.0.0.1:{operator_port}",
                   listen=f"127.0.0.1:{port}", log_format="json", name="it-probe",
                   concurrency=17),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def failed_calls() -> float:
            status, text = get(base + "/metrics")
            for line in text.splitlines():
                if line.startswith("pharos_probe_operator_errors_total "):
                    return float(line.split()[1])
            return 0.0

        pharos.wait_for(lambda: failed_calls() >= 2, timeout=20,
                        message="the probe to count failed operator calls")
        status, body = get(base + "/healthz")
        assert status == 200, body
        health = json.loads(body)
        assert health["status"] == "ok"
        assert health["registered"] is False
        assert health["lastOperatorContact"] is None
        assert f"127.0.0.1 port {operator_port}" in health["lastError"]

        status, body = get(base + "/readyz")
        assert status == 503, body
        assert json.loads(body)["ready"] is False

        status, metrics = get(base + "/metrics")
        assert status == 200
        assert "pharos_probe_capacity 17" in metrics
        assert 'pharos_build_info{version="' in metrics
        for name in PROBE_METRICS:
            assert f"# TYPE {name} " in metrics, name
        promtool = shutil.which("promtool") or "/usr/bin/promtool"
        assert Path(promtool).exists(), "promtool not found: scripts/setup installs it"
        lint = subprocess.run([promtool, "check", "metrics"], input=metrics, text=True,
                              capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    finally:
        process.send_signal(stop_signal)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            pytest.fail(f"pharos-probe did not exit after {stop_signal.name}:\n{stderr[-5000:]}")
    assert process.returncode == 0, stderr[-5000:]
    assert "s3cret-probe-token" not in stdout + stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    messages = [line["msg"] for line in lines]
    assert any(message.startswith("operator call failed") for message in messages), messages
    assert any(f"received {stop_signal.name}" in message for message in messages), messages
    assert "stopped; every result was reported" in messages, messages
