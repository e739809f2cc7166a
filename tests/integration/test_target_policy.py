"""The probe's target policy end to end (issue #16, docs/security.md "Target policy"): with a
loopback address (127.0.0.2/32) on the deny list, `pharos check` refuses a direct target, a
redirect to it and a name that resolves to it (dnsmasq), as outcome `error` with the documented
reason, and the target on 127.0.0.2 never sees a request. `pharos validate` warns about literal
targets the policy blocks. Loopback only: nothing is sent to any other address."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
import requests

import pharos
from dns_server import DnsServer
from target_server import TargetServer

DENY = ("--deny-cidr", "127.0.0.2/32")
# dnsmasq's address for the name test: a loopback address no other suite uses, port 53.
RESOLVER_HOST = "127.0.53.53"
REASON = "target address 127.0.0.2 is blocked by the probe's policy"


@pytest.fixture(scope="module")
def denied_target():
    """A target server on the address the tests deny, to show it is never asked."""
    with TargetServer(host="127.0.0.2") as server:
        yield server


def http(name: str, url: str, headers: dict | None = None) -> dict:
    spec = {"url": url}
    if headers:
        spec["headers"] = headers
    return pharos.monitor(name, "http", timeout="5s", http=spec)


def test_direct_target_on_the_deny_list_is_an_error_and_never_contacted(cli, denied_target, tag):
    run = cli.check([http("direct", denied_target.url(f"/status/200?tag={tag}")),
                     pharos.monitor("tcp-direct", "tcp", timeout="5s",
                                    tcp={"host": "127.0.0.2", "port": denied_target.port()})],
                    *DENY)
    for name in ("direct", "tcp-direct"):
        result = run.by_name(name)
        assert result["outcome"] == "error", result
        assert result["error"] == REASON, result
    assert run.returncode == 1
    assert denied_target.count(tag) == 0

    allowed = cli.check(http("direct", denied_target.url(f"/status/200?tag={tag}")))
    assert allowed.only()["outcome"] == "up", allowed.completed.describe()
    assert denied_target.count(tag) == 1


def test_redirect_to_a_denied_address_is_refused_at_that_hop(cli, target, denied_target, tag):
    hop = denied_target.url(f"/status/200?tag={tag}")
    run = cli.check(http("redirected", target.url(f"/redirect-to?url={hop}")), *DENY)
    result = run.only()
    assert result["outcome"] == "error", result
    assert result["error"] == REASON, result
    assert denied_target.count(tag) == 0


def test_default_policy_refuses_cloud_metadata(cli):
    # Refused before a socket is opened: no packet leaves for 169.254.169.254.
    run = cli.check(http("metadata", "http://169.254.169.254/latest/meta-data/",
                         headers={"Metadata-Flavor": "Google"}))
    result = run.only()
    assert result["outcome"] == "error", result
    assert result["error"] == "target address 169.254.169.254 is blocked by the probe's policy"


def test_dns_server_on_the_deny_list_is_refused(cli, dns):
    with DnsServer(host="127.0.0.2") as denied_dns:
        monitor = pharos.monitor("dns-denied", "dns", timeout="5s",
                                 dns={"name": "ok.test", "recordType": "A",
                                      "server": denied_dns.server})
        run = cli.check(monitor, *DENY)
        assert run.only()["outcome"] == "error", run.only()
        assert run.only()["error"] == REASON
        assert cli.check(monitor).only()["outcome"] == "up"


def _unshare() -> str | None:
    path = shutil.which("unshare")
    if path is None:
        return None
    probe = subprocess.run([path, "-m", "true"], capture_output=True)
    return path if probe.returncode == 0 else None


def test_a_name_resolving_to_a_denied_address_is_refused(pharos_executable, denied_target, tmp_path,
                                                         tag):
    """denied.test resolves (dnsmasq) to 127.0.0.2. The probe's resolver reads /etc/resolv.conf,
    which names no port: dnsmasq listens on port 53 of a loopback address of its own, and
    `pharos check` runs in a private mount namespace where /etc/resolv.conf names it."""
    unshare = _unshare()
    if unshare is None:
        pytest.skip("needs unshare -m (a private mount namespace) to point the resolver at dnsmasq")
    names = DnsServer(extra_args=["--host-record=denied.test,127.0.0.2"], host=RESOLVER_HOST,
                      port=53)
    try:
        names.start()
    except RuntimeError as exc:
        pytest.fail(f"dnsmasq could not listen on {RESOLVER_HOST}:53: {exc}")
    try:
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(f"nameserver {RESOLVER_HOST}\noptions attempts:2 timeout:2\n")
        port = denied_target.port()
        monitors = pharos.write_monitors(tmp_path, [
            http("by-name", f"http://denied.test:{port}/status/200?tag={tag}"),
            pharos.monitor("tcp-by-name", "tcp", timeout="5s",
                           tcp={"host": "denied.test", "port": port})])
        script = ('mount --bind "$1" /etc/resolv.conf && shift && exec "$@"')
        completed = pharos.run([unshare, "-m", "sh", "-c", script, "sh", resolv,
                                pharos_executable, "check", "-o", "json", *DENY, monitors],
                               timeout=120)
        assert completed.returncode == 1, completed.describe()
        results = {result["name"]: result for result in completed.json()}
        for name in ("by-name", "tcp-by-name"):
            assert results[name]["outcome"] == "error", completed.describe()
            assert results[name]["error"] == REASON, completed.describe()
        assert denied_target.count(tag) == 0

        # The same lookup without the deny list reaches the target: the name did resolve there.
        completed = pharos.run([unshare, "-m", "sh", "-c", script, "sh", resolv,
                                pharos_executable, "check", "-o", "json", monitors], timeout=120)
        results = {result["name"]: result for result in completed.json()}
        assert results["by-name"]["outcome"] == "up", completed.describe()
        assert denied_target.count(tag) == 1
    finally:
        names.stop()


def test_validate_warns_about_literal_targets_the_policy_blocks(cli):
    path = cli.write([
        http("metadata", "http://169.254.169.254/computeMetadata/v1/"),
        http("v6-metadata", "http://[fd00:ec2::254]/latest/"),
        pharos.monitor("tcp-denied", "tcp", tcp={"host": "127.0.0.2", "port": 80}),
        pharos.monitor("dns-denied", "dns", dns={"name": "x.test", "server": "127.0.0.2:53"}),
        http("fine", "http://127.0.0.1:8080/"),
    ])
    completed = cli.run("validate", *DENY, path)
    assert completed.returncode == 0, completed.describe()
    warnings = [line for line in completed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 4, completed.describe()
    assert any("spec.http.url" in line and "169.254.169.254 is blocked" in line
               for line in warnings), warnings
    assert any("spec.tcp.host" in line and "127.0.0.2 is blocked" in line for line in warnings)
    assert any("spec.dns.server" in line for line in warnings)
    assert not any("fine" in line for line in warnings)

    without_deny = cli.run("validate", path)
    assert without_deny.stderr.count("warning:") == 2, without_deny.describe()
    bad = cli.run("validate", "--deny-cidr", "10.0.0.0/99", path)
    assert bad.returncode == 2 and "--deny-cidr" in bad.stderr, bad.describe()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_control_planes_policy_is_pushed_to_external_probes(denied_target, tmp_path, tag):
    """`pharos run --deny-cidr` sends its policy with the work: an external pharos-probe started
    without any policy flag refuses the denied target too."""
    monitors = pharos.write_monitors(tmp_path, [
        pharos.monitor("pushed", "http", frequency="10s", timeout="3s", retries=0,
                       regions=["eu-west"],
                       http={"url": denied_target.url(f"/status/200?tag={tag}")})])
    (tmp_path / "tokens").write_text("eu-west=policy-test-token-0123456789\n")
    (tmp_path / "probe.token").write_text("policy-test-token-0123456789\n")
    port = pharos.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "PHAROS_CA_FILE"}
    with open(tmp_path / "run.log", "w") as run_log, open(tmp_path / "probe.log", "w") as probe_log:
        plane = subprocess.Popen(
            [str(pharos.binary("pharos")), "run", "--listen", f"127.0.0.1:{port}", "--db",
             str(tmp_path / "pharos.db"), "--probe-token-file", str(tmp_path / "tokens"), *DENY,
             "--log-format", "json", str(monitors)],
            stdout=run_log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        probe = None
        try:
            pharos.wait_for(lambda: requests.get(base + "/readyz", timeout=2).status_code == 200,
                            timeout=30, message="pharos run to be ready")
            probe = subprocess.Popen(
                [str(pharos.binary("pharos-probe")), "--operator", base, "--region", "eu-west",
                 "--token-file", str(tmp_path / "probe.token"), "--name", "eu-1", "--listen",
                 f"127.0.0.1:{pharos.free_port()}", "--log-format", "json"],
                stdout=probe_log, stderr=subprocess.STDOUT, start_new_session=True)

            def eu_result():
                results = requests.get(base + "/api/v1/monitors/default/pushed/results",
                                       params={"region": "eu-west"}, timeout=5).json()["results"]
                return results[0] if results else None

            try:
                result = pharos.wait_for(eu_result, timeout=60, interval=0.2,
                                         message="a result from the eu-west probe")
            except TimeoutError:
                raise AssertionError((tmp_path / "run.log").read_text()[-5000:] + "\n---\n"
                                     + (tmp_path / "probe.log").read_text()[-5000:])
            assert result["probe"] == "eu-1", result
            assert result["outcome"] == "error", result
            assert result["error"] == REASON, result
            assert denied_target.count(tag) == 0
        finally:
            if probe is not None:
                _stop(probe)
            _stop(plane)


def test_redact_bodies_reports_only_which_assertion_failed(cli, target):
    monitor = pharos.monitor("body", "http", timeout="5s", http={"url": target.url("/health")},
                             assertions=[{"type": "body", "op": "contains",
                                          "value": "no-such-text"}])
    shown = cli.check(monitor).only()
    assert shown["outcome"] == "down", shown
    assert shown["failedAssertion"]["actual"] != "", shown

    redacted = cli.check(monitor, "--redact-bodies").only()
    assert redacted["outcome"] == "down", redacted
    failed = redacted["failedAssertion"]
    assert failed["type"] == "body" and failed["expected"] == shown["failedAssertion"]["expected"]
    assert failed["actual"] == "", failed
    assert "--redact-bodies" in failed["message"], failed
    assert shown["failedAssertion"]["actual"] not in failed["message"]
