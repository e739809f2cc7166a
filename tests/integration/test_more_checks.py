"""`pharos check` with the check types of issue #18 against real loopback servers:

* gRPC health: a grpcio server with grpcio-health-checking's servicer (plaintext h2c and TLS with
  the test CA's certificate), switched between SERVING, NOT_SERVING and an unknown service;
* TCP conversations: an SMTP-like server (Python's ssl module) that upgrades on STARTTLS;
* ICMP: echo requests to 127.0.0.1 and ::1 (a datagram socket where net.ipv4.ping_group_range
  allows it, a raw socket as root; skipped when neither is possible, with the reason);
* resolve: all: dnsmasq's multi.test (A 127.0.0.1 and 127.0.0.2) with a listener on each
  address, one of them closed, under spec.alerting.addressQuorum (`--resolver` points the
  engine at dnsmasq).

Contract: docs/monitor-reference.md ("icmp", "grpc", "tcp.conversation", "Every address").
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import threading
from concurrent import futures

import grpc  # grpcio and grpcio-health-checking: scripts/setup installs them
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

import pharos
from pharos_run import PharosRun


# --- gRPC health ---------------------------------------------------------------------------------


@contextlib.contextmanager
def grpc_health_server(tls_files=None):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if tls_files is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        with open(tls_files.key_file, "rb") as key, open(tls_files.cert_file, "rb") as cert:
            credentials = grpc.ssl_server_credentials([(key.read(), cert.read())])
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(grace=None)


def grpc_monitor(name, port, service="", tls=False, **grpc_fields):
    spec = {"address": f"127.0.0.1:{port}", **grpc_fields}
    if service:
        spec["service"] = service
    if tls:
        spec["tls"] = True
    return pharos.monitor(name, "grpc", timeout="5s", grpc=spec)


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_grpc_health_follows_the_serving_status(cli):
    with grpc_health_server() as (servicer, port):
        servicer.set("", SERVING)
        servicer.set("orders", NOT_SERVING)
        monitors = [grpc_monitor("server", port), grpc_monitor("orders", port, "orders"),
                    grpc_monitor("unknown", port, "no.such.Service")]
        run = cli.check(monitors)
        assert run.returncode == 1, run.completed.describe()
        server = run.by_name("server")
        assert server["outcome"] == "up", server
        assert server["type"] == "grpc"
        assert server["timings"]["connectUs"] > 0
        orders = run.by_name("orders")
        assert orders["outcome"] == "down", orders
        assert orders["failedAssertion"]["type"] == "grpcHealth"
        assert "NOT_SERVING" in orders["failedAssertion"]["message"]
        unknown = run.by_name("unknown")
        assert unknown["outcome"] == "down", unknown
        assert "NOT_FOUND" in unknown["error"], unknown

        servicer.set("orders", SERVING)
        assert cli.check(grpc_monitor("orders", port, "orders")).only()["outcome"] == "up"


def test_grpc_health_over_tls_with_metadata(cli, target):
    with grpc_health_server(target.pki.certs["valid"]) as (servicer, port):
        servicer.set("", SERVING)
        monitor = grpc_monitor("secure", port, tls=True,
                               tlsOptions={"serverName": "localhost"},
                               metadata={"x-team": "core"})
        result = cli.check(monitor).only()
        assert result["outcome"] == "up", result
        assert result["timings"]["tlsUs"] > 0
        assert result["certExpiry"]


def test_grpc_against_a_server_that_is_not_grpc_is_down_in_words(cli, target):
    result = cli.check(grpc_monitor("http-only", target.ports["http"])).only()
    assert result["outcome"] == "down", result
    assert result["error"], result


def test_grpc_table_output_names_the_serving_status(cli):
    with grpc_health_server() as (servicer, port):
        servicer.set("orders", NOT_SERVING)
        completed = cli.run("check", str(cli.write(grpc_monitor("orders", port, "orders"))))
        assert completed.returncode == 1, completed.describe()
        assert "NOT_SERVING" in completed.stdout, completed.describe()


# --- TCP conversations with STARTTLS -------------------------------------------------------------


class SmtpLikeServer:
    """Greets with 220, offers STARTTLS on EHLO, upgrades on STARTTLS, answers QUIT with 221.
    One thread per connection; stopped by close()."""

    def __init__(self, tls_files):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tls_files.cert_file, tls_files.key_file)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upgraded = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        connection.settimeout(5)
        stream = connection
        try:
            stream.sendall(b"220 mail.test ESMTP ready\r\n")
            reader = stream.makefile("rb")
            while line := reader.readline():
                command = line.strip().upper()
                if command.startswith(b"EHLO"):
                    stream.sendall(b"250-mail.test\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")
                elif command == b"STARTTLS" and stream is connection:
                    stream.sendall(b"220 ready to start TLS\r\n")
                    stream = self.context.wrap_socket(connection, server_side=True)
                    self.upgraded += 1
                    reader = stream.makefile("rb")
                elif command == b"QUIT":
                    stream.sendall(b"221 bye\r\n")
                    break
                else:
                    stream.sendall(b"500 unknown command\r\n")
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stream.close()

    def close(self):
        self.listener.close()


SMTP_CONVERSATION = [
    {"expect": "220 "},
    {"send": "EHLO pharos\r\n"},
    {"expectRegex": "^250[ -]STARTTLS", "timeout": "2s"},
    {"send": "STARTTLS\r\n"},
    {"expect": "220 "},
    {"startTls": True},
    {"send": "EHLO pharos\r\n"},
    {"expectRegex": "^250 "},
    {"send": "QUIT\r\n"},
    {"expect": "221"},
]


@pytest.fixture
def smtp(target):
    server = SmtpLikeServer(target.pki.certs["valid"])
    yield server
    server.close()


def smtp_monitor(name, port, conversation, server_name="localhost"):
    return pharos.monitor(name, "tcp", timeout="5s",
                          tcp={"host": "127.0.0.1", "port": port,
                               "tlsOptions": {"serverName": server_name},
                               "conversation": conversation})


def test_smtp_starttls_conversation_is_up_with_the_certificate(cli, smtp):
    result = cli.check(smtp_monitor("smtp", smtp.port, SMTP_CONVERSATION)).only()
    assert result["outcome"] == "up", result
    assert result["certExpiry"], result
    assert result["timings"]["tlsUs"] > 0
    assert smtp.upgraded >= 1


def test_starttls_certificate_for_another_name_is_down(cli, smtp):
    result = cli.check(smtp_monitor("smtp", smtp.port, SMTP_CONVERSATION,
                                    server_name="wrong.example")).only()
    assert result["outcome"] == "down", result
    assert "wrong.example" in result["error"], result


def test_unexpected_answer_names_the_step_and_what_came(cli, smtp):
    conversation = [{"expect": "220 "}, {"send": "HELP\r\n"},
                    {"expect": "214 ", "timeout": "300ms"}]
    result = cli.check(smtp_monitor("smtp", smtp.port, conversation)).only()
    assert result["outcome"] == "down", result
    assert 'step 3 (expect "214 ")' in result["error"], result
    assert "500 unknown command" in result["error"], result


# --- ICMP ----------------------------------------------------------------------------------------


def _cannot_ping(family) -> str:
    """Why neither an unprivileged nor a raw ICMP socket can be opened here ("" when one can)."""
    protocol = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            socket.socket(family, kind, protocol).close()
            return ""
        except OSError as error:
            reason = str(error)
    return reason


@pytest.mark.parametrize("host,family", [("127.0.0.1", socket.AF_INET),
                                         ("::1", socket.AF_INET6)])
def test_ping_loopback(cli, host, family):
    if why := _cannot_ping(family):
        pytest.skip(f"this machine cannot open ICMP sockets: {why}")
    monitor = pharos.monitor("ping", "icmp", timeout="5s",
                             icmp={"host": host, "count": 3, "interval": "50ms"},
                             assertions=[{"type": "packetLoss", "op": "lte",
                                          "value": "0"}])
    result = cli.check(monitor).only()
    assert result["outcome"] == "up", result
    assert result["icmp"]["sent"] == 3, result
    assert result["icmp"]["received"] == 3, result
    assert result["icmp"]["packetLossPercent"] == 0
    assert 0 < result["icmp"]["rttMinUs"] <= result["icmp"]["rttAvgUs"] <= result["icmp"]["rttMaxUs"]


def test_ping_socket_kinds_follow_the_flag(cli):
    if why := _cannot_ping(socket.AF_INET):
        pytest.skip(f"this machine cannot open ICMP sockets: {why}")
    monitor = pharos.monitor("ping", "icmp", timeout="5s",
                             icmp={"host": "127.0.0.1", "count": 1, "interval": "50ms"})
    path = str(cli.write(monitor))
    raw = cli.run("check", "-o", "json", "--icmp-socket", "raw", path)
    datagram = cli.run("check", "-o", "json", "--icmp-socket", "datagram", path)
    if os.geteuid() == 0:
        assert raw.json()[0]["outcome"] == "up", raw.describe()
    with open("/proc/sys/net/ipv4/ping_group_range") as file:
        low, high = (int(value) for value in file.read().split())
    if not low <= os.getgid() <= high:
        # Not allowed: an `error` (the probe's fault), saying which sysctl decides.
        result = datagram.json()[0]
        assert result["outcome"] == "error", result
        assert "ping_group_range" in result["error"], result
    bad = cli.run("check", "--icmp-socket", "udp", path)
    assert bad.returncode == 2, bad.describe()
    assert "--icmp-socket" in bad.stderr


# --- resolve: all with dnsmasq -------------------------------------------------------------------


@contextlib.contextmanager
def listeners(addresses):
    """TCP listeners on the same free port on each loopback address."""
    port = pharos.free_port()
    sockets = {}
    try:
        for address in addresses:
            sockets[address] = socket.create_server((address, port))
        yield port, sockets
    finally:
        for listener in sockets.values():
            listener.close()


def test_resolve_all_checks_every_address_under_the_quorum(cli, dns):
    with listeners(["127.0.0.1", "127.0.0.2"]) as (port, sockets):
        monitor = pharos.monitor("every", "tcp", timeout="3s",
                                 tcp={"host": "multi.test", "port": port, "resolve": "all"})
        resolver = ("--resolver", dns.server)
        run = cli.check(monitor, *resolver)
        result = run.only()
        assert result["outcome"] == "up", result
        assert sorted(a["address"] for a in result["addresses"]) == ["127.0.0.1", "127.0.0.2"]
        assert all(a["outcome"] == "up" for a in result["addresses"]), result

        sockets.pop("127.0.0.2").close()
        result = cli.check(monitor, *resolver).only()
        assert result["outcome"] == "down", result
        assert "127.0.0.2" in result["error"], result
        assert "1 of 2 addresses failing" in result["error"], result
        failing = [a for a in result["addresses"] if a["outcome"] == "down"]
        assert [a["address"] for a in failing] == ["127.0.0.2"], result

        monitor["spec"]["alerting"] = {"addressQuorum": 2}
        result = cli.check(monitor, *resolver).only()
        assert result["outcome"] == "up", result


def test_pharos_run_stores_every_address_and_the_icmp_stats(tmp_path, dns):
    """What `pharos check` prints per address and per echo request is kept in SQLite too: the
    results API of `pharos run` (read back from the --db file) shows it, also after a restart."""
    with listeners(["127.0.0.1", "127.0.0.2"]) as (port, sockets):
        sockets.pop("127.0.0.2").close()
        monitors = [pharos.monitor("every", "tcp", namespace="net", frequency="10s",
                                   timeout="3s",
                                   tcp={"host": "multi.test", "port": port, "resolve": "all"})]
        can_ping = not _cannot_ping(socket.AF_INET)
        if can_ping:
            monitors.append(pharos.monitor("ping", "icmp", namespace="net", frequency="10s",
                                           timeout="5s",
                                           icmp={"host": "127.0.0.1", "count": 2,
                                                 "interval": "50ms"}))
        path = pharos.write_monitors(tmp_path, monitors)
        args = ("--resolver", dns.server)

        def stored(run, name):
            return run.json(f"/api/v1/monitors/net/{name}/results")["results"]

        run = PharosRun(tmp_path, [path], extra_args=args)
        try:
            every = pharos.wait_for(lambda: stored(run, "every"), timeout=60,
                                    message="a stored result of net/every")[0]
            if can_ping:
                ping = pharos.wait_for(lambda: stored(run, "ping"), timeout=60,
                                       message="a stored result of net/ping")[0]
        finally:
            assert run.stop() == 0, run.output()
        assert every["outcome"] == "down", every
        assert {a["address"]: a["outcome"] for a in every["addresses"]} == {
            "127.0.0.1": "up", "127.0.0.2": "down"}, every
        if can_ping:
            assert ping["icmp"]["sent"] == 2 and ping["icmp"]["received"] == 2, ping

        # Read back from the file by the next process, not from memory.
        again = PharosRun(tmp_path, [path], extra_args=args)
        try:
            kept = {r["itemId"]: r for r in stored(again, "every")}
            assert kept[every["itemId"]]["addresses"] == every["addresses"]
            if can_ping:
                kept = {r["itemId"]: r for r in stored(again, "ping")}
                assert kept[ping["itemId"]]["icmp"] == ping["icmp"]
        finally:
            again.kill()


def table_rows(completed) -> dict[str, list[str]]:
    """`pharos check`'s table: NAME → [TYPE, OUTCOME, STATUS, TOTAL (two words), REASON...]."""
    lines = completed.stdout.splitlines()
    assert lines and lines[0].split()[:6] == ["NAME", "TYPE", "OUTCOME", "STATUS", "TOTAL",
                                              "REASON"], completed.describe()
    return {line.split()[0]: line.split()[1:] for line in lines[1:] if line.strip()}


def test_table_has_a_row_for_each_new_type(cli, smtp, dns):
    """The default output (a table) of every check type of issue #18 in one run: what the
    STATUS column counts and the REASON a failing row gives (push and Service targets are not
    checked by `pharos check`: an error saying why)."""
    with listeners(["127.0.0.1", "127.0.0.2"]) as (port, sockets):
        sockets.pop("127.0.0.2").close()
        monitors = [
            smtp_monitor("mail", smtp.port, SMTP_CONVERSATION),
            pharos.monitor("every", "tcp", timeout="3s",
                           tcp={"host": "multi.test", "port": port, "resolve": "all"}),
            pharos.monitor("nightly", "push", push={"expectEvery": "24h"}),
            pharos.monitor("backends", "http",
                           target={"service": {"name": "checkout", "port": "http"}}),
        ]
        can_ping = not _cannot_ping(socket.AF_INET)
        if can_ping:
            monitors.append(pharos.monitor("ping", "icmp", timeout="5s",
                                           icmp={"host": "127.0.0.1", "count": 2,
                                                 "interval": "50ms"}))
        completed = cli.run("check", "--resolver", dns.server, str(cli.write(monitors)))
    assert completed.returncode == 1, completed.describe()
    rows = table_rows(completed)
    assert rows["default/mail"][:3] == ["tcp", "up", "-"], completed.describe()
    every = rows["default/every"]
    assert every[:4] == ["tcp", "down", "1/2", "addresses"], completed.describe()
    assert "127.0.0.2" in " ".join(every[6:]), completed.describe()
    nightly = rows["default/nightly"]
    assert nightly[:3] == ["push", "error", "-"], completed.describe()
    assert "push monitors are not checked by a probe" in " ".join(nightly), completed.describe()
    # A Service's endpoints come from the operator's EndpointSlice watch: an error here (the
    # probe could not check it), never down.
    backends = rows["default/backends"]
    assert backends[:3] == ["http", "error", "-"], completed.describe()
    assert "endpoints of Service default/checkout are not known here" in " ".join(backends), (
        completed.describe())
    if can_ping:
        assert rows["default/ping"][:4] == ["icmp", "up", "2/2", "replies"], completed.describe()


def test_resolver_flag_is_checked(cli, dns):
    monitor = pharos.monitor("every", "tcp", tcp={"host": "multi.test", "port": 80})
    completed = cli.run("check", "--resolver", "dns.example:53", str(cli.write(monitor)))
    assert completed.returncode == 2, completed.describe()
    assert "--resolver" in completed.stderr
