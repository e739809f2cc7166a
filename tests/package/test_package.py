"""The Debian package of scripts/package, installed on this machine (root; not part of CI:
`scripts/package --test` builds the package and runs this file; docs/install.md#debian-package).

The package is installed with apt-get, its units are verified and scored by systemd-analyze, and
each unit's ExecStart line is run as systemd would run it, without systemd (this machine's PID 1
is not systemd): the unit's User/Group via setpriv with no capabilities and no new privileges,
its Environment= and EnvironmentFile=, its WorkingDirectory and UMask, and its file-system
sandbox (ProtectSystem=strict with the StateDirectory writable, PrivateTmp) in a private mount
namespace. pharos.service checks a local target from /etc/pharos/monitors.d/; pharos-probe.service
joins it as region pkg-test. Then the package is purged and nothing of it may remain.

Environment: PACKAGE_OUT (default build-package).
"""

from __future__ import annotations

import glob
import grp
import os
import pwd
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest
import requests

import pharos
from target_server import TargetServer

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("PACKAGE_OUT", ROOT / "build-package")).resolve()
UNITS = Path("/lib/systemd/system")


def run(args: list[str], timeout: float = 300, check: bool = True,
        **kwargs) -> subprocess.CompletedProcess:
    completed = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and completed.returncode != 0:
        raise AssertionError(f"$ {shlex.join(args)}\nexit {completed.returncode}\n"
                             f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n"
                             f"{completed.stderr}")
    return completed


def installed() -> bool:
    status = run(["dpkg-query", "-W", "-f=${Status}", "pharos"], check=False).stdout
    return "install ok installed" in status


@pytest.fixture(scope="module")
def package():
    if os.geteuid() != 0:
        pytest.skip("installs a package: run as root")
    debs = glob.glob(str(OUT / "pharos_*_*.deb"))
    if len(debs) != 1:
        pytest.fail(f"expected one pharos_*.deb in {OUT}: run scripts/package", pytrace=False)
    if installed():
        pytest.fail("pharos is already installed on this machine; this test would purge it",
                    pytrace=False)
    user_existed = True
    try:
        pwd.getpwnam("pharos")
    except KeyError:
        user_existed = False
    run(["apt-get", "install", "-y", "--no-install-recommends", debs[0]],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=600)
    yield Path(debs[0])
    # Leave the machine as it was even when a test failed before the purge test.
    if installed():
        run(["apt-get", "purge", "-y", "pharos"], check=False)
    if not user_existed:
        run(["deluser", "--system", "pharos"], check=False)


def test_installed_files_and_user(package):
    assert installed()
    user = pwd.getpwnam("pharos")
    assert user.pw_dir == "/var/lib/pharos" and user.pw_shell == "/usr/sbin/nologin"
    assert user.pw_uid < 1000, "not a system user"
    state = os.stat("/var/lib/pharos")
    assert (state.st_uid, oct(state.st_mode & 0o7777)) == (user.pw_uid, "0o750")
    for binary in ("pharos", "pharos-probe", "pharos-operator"):
        version = run([f"/usr/bin/{binary}", "--version"]).stdout.strip()
        assert re.fullmatch(rf"{binary} \d+\.\d+\.\d+", version), version
        page = run(["zcat", f"/usr/share/man/man1/{binary}.1.gz"]).stdout
        assert ".SH SYNOPSIS" in page or ".SH DESCRIPTION" in page
    assert "pharos run" in run(["zcat", "/usr/share/man/man1/pharos.1.gz"]).stdout
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "pharos"]).stdout
    assert "/etc/pharos/pharos.env" in conffiles and "/etc/pharos/probe.env" in conffiles
    # dpkg-shlibdeps' dependencies are satisfied (apt-get installed them), so nothing is missing.
    for binary in ("pharos", "pharos-probe", "pharos-operator"):
        assert "not found" not in run(["ldd", f"/usr/bin/{binary}"]).stdout


def test_lintian_has_no_errors_or_warnings(package):
    findings = (OUT / "lintian.txt").read_text()
    assert not re.findall(r"^[EW]: .*$", findings, re.M), findings


@pytest.mark.parametrize("unit", ["pharos.service", "pharos-probe.service"])
def test_units_verify_and_are_hardened(package, unit):
    verify = run(["systemd-analyze", "verify", str(UNITS / unit)], check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = run(["systemd-analyze", "security", "--offline=true", str(UNITS / unit)],
                   check=False)
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)[1])
    assert score <= 2.0, security.stdout  # systemd calls up to 3.9 "OK"; 10 is "UNSAFE"


def unit_service(unit: str) -> dict[str, list[str]]:
    """The [Service] section of an installed unit: key -> every value, in order."""
    values: dict[str, list[str]] = {}
    section = None
    for line in (UNITS / unit).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def unit_environment(service: dict[str, list[str]]) -> dict[str, str]:
    environment = {}
    for line in service.get("Environment", []):
        for assignment in shlex.split(line):
            key, _, value = assignment.partition("=")
            environment[key] = value
    for line in service.get("EnvironmentFile", []):
        optional = line.startswith("-")
        path = Path(line.lstrip("-"))
        if not path.exists():
            assert optional, f"EnvironmentFile {path} missing"
            continue
        for raw in path.read_text().splitlines():
            raw = raw.strip()
            if raw and not raw.startswith("#"):
                key, _, value = raw.partition("=")
                environment[key.strip()] = value.strip().strip('"')
    return environment


def expand(command: str, environment: dict[str, str]) -> list[str]:
    """systemd's ExecStart expansion: ${VAR} is one word, $VAR splits on white space."""
    words = []
    for word in shlex.split(command):
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            words.extend(environment.get(word[1:], "").split())
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                                lambda match: environment.get(match[1], ""), word))
    return words


class UnitProcess:
    """A unit's ExecStart run as systemd would: user, environment, working directory, umask,
    ProtectSystem=strict + StateDirectory + PrivateTmp in a private mount namespace, no
    capabilities, no new privileges. Stopped by PID with the unit's stop signal."""

    def __init__(self, unit: str, log_dir: Path) -> None:
        service = unit_service(unit)
        environment = unit_environment(service)
        argv = expand(service["ExecStart"][0], environment)
        state = f"/var/lib/{service['StateDirectory'][0]}"
        assert service["ProtectSystem"] == ["strict"] and service["NoNewPrivileges"] == ["yes"]
        assert service["WorkingDirectory"] == [state]
        sandbox = (f"mount --bind {state} {state} && mount -o remount,bind,ro / && "
                   "mount -t tmpfs -o mode=1777 tmpfs /tmp && "
                   f"umask {service['UMask'][0]} && cd {state} && exec \"$@\"")
        self.argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", sandbox,
                     "unit", "setpriv", "--reuid", service["User"][0], "--regid",
                     service["Group"][0], "--init-groups", "--no-new-privs",
                     "--bounding-set=-all", "--inh-caps=-all", "--", *argv]
        self.log = log_dir / f"{unit}.log"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **environment}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=log, env=env,
                                            start_new_session=True)

    def output(self) -> str:
        return f"$ {shlex.join(self.argv)}\n{self.log.read_text()[-10000:]}"

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError("did not stop on SIGTERM\n" + self.output()) from None


def test_units_run_as_systemd_would(package, tmp_path):
    port, probe_port = pharos.free_port(), pharos.free_port()
    gid = grp.getgrnam("pharos").gr_gid
    etc = Path("/etc/pharos")
    tokens, token = etc / "probe-tokens", etc / "probe.token"
    tokens.write_text("pkg-test=package-test-token\n")
    token.write_text("package-test-token\n")
    for secret in (tokens, token):
        os.chown(secret, 0, gid)
        os.chmod(secret, 0o640)
    (etc / "pharos.env").write_text(
        f"PHAROS_LISTEN=127.0.0.1:{port}\n"
        f"PHAROS_ARGS=--probe-token-file {tokens}\n")
    (etc / "probe.env").write_text(
        f"PHAROS_OPERATOR=http://127.0.0.1:{port}\nPHAROS_REGION=pkg-test\n"
        f"PHAROS_PROBE_LISTEN=127.0.0.1:{probe_port}\n")
    units: list[UnitProcess] = []
    try:
        with TargetServer() as target:
            pharos.write_monitors(etc / "monitors.d", [
                pharos.monitor("pkg-local", "http", frequency="10s", timeout="3s",
                               http={"url": target.url("/status/200")}),
                pharos.monitor("pkg-down", "http", frequency="10s", timeout="3s",
                               http={"url": target.url("/status/503")},
                               alerting={"failureThreshold": 1, "successThreshold": 1}),
                pharos.monitor("pkg-probe", "http", frequency="10s", timeout="3s",
                               http={"url": target.url("/status/200")}, regions=["pkg-test"]),
            ], filename="package-test.yaml")
            units.append(UnitProcess("pharos.service", tmp_path))
            base = f"http://127.0.0.1:{port}"

            def states():
                answer = requests.get(f"{base}/api/v1/monitors", timeout=5).json()
                return {m["name"]: m["state"] for m in answer["monitors"]}
            try:
                pharos.wait_for(lambda: requests.get(f"{base}/readyz", timeout=5).ok,
                                timeout=60, message="pharos.service ready")
                units.append(UnitProcess("pharos-probe.service", tmp_path))
                pharos.wait_for(lambda: states() == {"pkg-local": "Up", "pkg-down": "Down",
                                                     "pkg-probe": "Up"},
                                timeout=90, interval=0.5, message="states from both units")
            except TimeoutError as error:
                raise AssertionError(
                    f"{error}\n" + "\n".join(unit.output() for unit in units)) from None
            database = Path("/var/lib/pharos/pharos.db")
            assert database.stat().st_uid == pwd.getpwnam("pharos").pw_uid
            assert oct(database.stat().st_mode & 0o077) in ("0o40", "0o0"), "UMask=0027"
            assert "package-test-token" not in "".join(u.log.read_text() for u in units)
            for unit in reversed(units):
                assert unit.stop() == 0, unit.output()
    finally:
        for unit in units:
            if unit.process.poll() is None:
                os.killpg(unit.process.pid, signal.SIGKILL)
        for path in (etc / "monitors.d" / "package-test.yaml", tokens, token):
            path.unlink(missing_ok=True)


def test_purge_leaves_nothing(package):
    run(["apt-get", "purge", "-y", "pharos"], env=dict(os.environ,
                                                        DEBIAN_FRONTEND="noninteractive"))
    assert "pharos" not in run(["dpkg-query", "-W", "-f=${Package} ${Status}\n"],
                               check=False).stdout.split()
    for path in ("/usr/bin/pharos", "/usr/bin/pharos-probe", "/usr/bin/pharos-operator",
                 "/lib/systemd/system/pharos.service", "/lib/systemd/system/pharos-probe.service",
                 "/etc/pharos", "/var/lib/pharos", "/usr/share/doc/pharos",
                 "/usr/share/man/man1/pharos.1.gz"):
        assert not os.path.lexists(path), f"{path} left after purge"
