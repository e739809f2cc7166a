"""Fixtures for the integration suites: the local target server, the dnsmasq DNS server and a
driver for the `pharos` CLI. Every service listens on 127.0.0.1 only, on ports the OS chose."""

from __future__ import annotations

import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPPORT_DIR = str(Path(__file__).resolve().parents[1] / "support")
if SUPPORT_DIR not in sys.path:  # also when pytest is started from inside tests/integration
    sys.path.insert(0, SUPPORT_DIR)

import pharos  # noqa: E402
from clickhouse import ClickHouse, ClickHouseMissing  # noqa: E402
from dns_server import DnsServer, DnsmasqMissing  # noqa: E402
from receivers import NotificationReceiver  # noqa: E402
from target_server import TargetServer  # noqa: E402


@pytest.fixture(scope="session")
def target():
    """The fault-injecting target server (in-process, background thread)."""
    with TargetServer() as server:
        yield server


@pytest.fixture(scope="session")
def dns():
    """dnsmasq serving the zone `test.` (records: dns_server.DEFAULT_RECORDS)."""
    try:
        server = DnsServer().start()
    except DnsmasqMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


_tag_counter = itertools.count()


@pytest.fixture
def tag(request) -> str:
    """A tag unique to this test, for ?tag= counters and recorded requests on the target."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"{stem}-{next(_tag_counter)}"


@dataclass
class CheckRun:
    """One `pharos check -o json` run: the process and its parsed results."""

    completed: pharos.Completed
    results: list[dict]

    @property
    def returncode(self) -> int:
        return self.completed.returncode

    def by_name(self, name: str) -> dict:
        matches = [result for result in self.results if result.get("name") == name]
        assert len(matches) == 1, (f"expected one result named {name!r}, got {len(matches)}\n"
                                   + self.completed.describe())
        return matches[0]

    def only(self) -> dict:
        assert len(self.results) == 1, self.completed.describe()
        return self.results[0]


class PharosCli:
    """Runs the `pharos` binary with the test CA trusted (PHAROS_CA_FILE) and monitors written
    to a per-test directory."""

    def __init__(self, executable: Path, workdir: Path, ca_file: str) -> None:
        self.executable = executable
        self.workdir = workdir
        self.env = {"PHAROS_CA_FILE": ca_file}
        self._files = itertools.count()

    def write(self, monitors, filename: str | None = None) -> Path:
        return pharos.write_monitors(self.workdir, monitors,
                                     filename or f"monitors-{next(self._files)}.yaml")

    def run(self, *args, timeout: float = 120) -> pharos.Completed:
        return pharos.run([self.executable, *args], timeout=timeout, env=self.env)

    def check(self, monitors, *args, timeout: float = 120) -> CheckRun:
        """`pharos check -o json [args] FILE` for manifests (dict/list/YAML text) or paths."""
        paths = monitors if isinstance(monitors, tuple) else (self.write(monitors),)
        completed = self.run("check", "-o", "json", *args, *paths, timeout=timeout)
        assert completed.returncode in (0, 1), (
            "pharos check should exit 0 or 1 for valid monitors\n" + completed.describe())
        assert completed.returncode >= 0, "pharos crashed\n" + completed.describe()
        results = completed.json()
        assert isinstance(results, list), completed.describe()
        return CheckRun(completed, results)


@pytest.fixture(scope="session")
def pharos_executable() -> Path:
    return pharos.required_binary("pharos")


@pytest.fixture
def cli(pharos_executable, target, tmp_path) -> PharosCli:
    return PharosCli(pharos_executable, tmp_path, target.ca_file)


@pytest.fixture
def receiver():
    """A loopback receiver of notifications (tests/support/receivers.py)."""
    with NotificationReceiver() as server:
        yield server


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    """A real clickhouse-server on loopback with its own data folder (tests/support/clickhouse.py),
    one per test module."""
    try:
        server = ClickHouse(tmp_path_factory.mktemp("ch"))
    except ClickHouseMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with server:
        yield server
