"""Proves the test fixtures themselves (target server, dnsmasq fixture, helpers) before the C++
suites rely on them. Traffic goes to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest

import dns_server
import pharos
from certs import parse_rfc3339
from target_server import TargetServerProcess


def request(target, path: str, listener: str = "http", method: str = "GET",
            headers: dict | None = None, body: bytes | None = None,
            context: ssl.SSLContext | None = None, host: str = "127.0.0.1", timeout: float = 10):
    """One request with http.client (no redirects followed). Returns (status, headers, body)."""
    port = target.port(listener)
    if listener.startswith("https"):
        if context is None:
            context = ssl.create_default_context(cafile=target.ca_file)
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def header(headers, name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def raw_exchange(port: int, payload: bytes, timeout: float = 5) -> bytes:
    """Sends raw bytes and reads until the server closes (or raises what the socket raised)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


# --- plain HTTP behaviours ---------------------------------------------------------------------


def test_status_with_body_headers_and_content_type(target):
    query = urllib.parse.urlencode([("body", "hello world"), ("content_type", "text/x-test"),
                                    ("header", "X-Env:prod"), ("header", "X-Two: 2")])
    status, headers, body = request(target, f"/status/503?{query}")
    assert status == 503
    assert body == b"hello world"
    assert header(headers, "content-type") == "text/x-test"
    assert header(headers, "x-env") == "prod"
    assert header(headers, "x-two") == "2"


def test_status_rejects_codes_outside_range(target):
    assert request(target, "/status/999")[0] == 400
    assert request(target, "/status/abc")[0] == 400
    assert request(target, "/no/such/thing")[0] == 404


def test_head_has_no_body(target):
    status, headers, body = request(target, "/status/200?body=abc", method="HEAD")
    assert status == 200 and body == b"" and header(headers, "content-length") == "3"


def test_health_and_json(target):
    status, headers, body = request(target, "/health")
    assert status == 200 and "json" in header(headers, "content-type")
    assert json.loads(body) == {"status": "ok", "checks": {"db": "up"}}
    data = json.dumps({"a": {"b": [1, 2]}})
    status, headers, body = request(target, "/json?" + urllib.parse.urlencode({"data": data}))
    assert status == 200 and json.loads(body) == {"a": {"b": [1, 2]}}
    assert header(headers, "content-type") == "application/json"


def test_echo_reports_method_headers_and_body(target):
    status, _, body = request(target, "/echo?x=1", method="POST", body=b'{"k":"v"}',
                              headers={"Content-Type": "application/json",
                                       "User-Agent": "probe/9"})
    echoed = json.loads(body)
    assert status == 200
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo" and echoed["query"] == {"x": ["1"]}
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["headers"]["user-agent"] == "probe/9"
    assert echoed["body"] == '{"k":"v"}'
    assert echoed["tls"] is False


def test_echo_reads_chunked_request_bodies(target):
    payload = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    response = raw_exchange(target.port("http"), payload)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["body"] == "abcde"


def test_keep_alive_serves_several_requests_on_one_connection(target):
    connection = http.client.HTTPConnection("127.0.0.1", target.port("http"), timeout=5)
    try:
        for code in (200, 404, 201):
            connection.request("GET", f"/status/{code}")
            response = connection.getresponse()
            response.read()
            assert response.status == code
    finally:
        connection.close()


def test_tag_counts_and_records_requests(target, tag):
    for _ in range(3):
        request(target, f"/status/200?tag={tag}", headers={"X-Seen": "yes"})
    assert target.count(tag) == 3
    recorded = target.requests(tag)
    assert len(recorded) == 3 and recorded[0]["headers"]["x-seen"] == "yes"
    status, _, body = request(target, f"/control/count/{tag}")
    assert status == 200 and json.loads(body) == {"name": tag, "count": 3}
    assert json.loads(request(target, f"/control/requests/{tag}")[2])[0]["path"] == "/status/200"
    status, _, body = request(target, f"/control/count/{tag}", method="DELETE")
    assert json.loads(body)["count"] == 0 and target.count(tag) == 0


def test_malformed_request_gets_400(target):
    response = raw_exchange(target.port("http"), b"NOT-HTTP\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 400")


# --- slow answers -------------------------------------------------------------------------------


def test_slow_first_byte_sends_nothing_before_the_delay(target):
    with socket.create_connection(("127.0.0.1", target.port("http")), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /slow/first-byte?ms=800 HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(1)
        sock.settimeout(5)
        first = sock.recv(12)
        assert first.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started >= 0.8  # lower bound: the server waited as told


def test_slow_body_sends_headers_first_then_chunks(target):
    with socket.create_connection(("127.0.0.1", target.port("http")), timeout=5) as sock:
        sock.sendall(b"GET /slow/body?ms=600&chunks=3&chunk_bytes=5 HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        head_done = time.monotonic()
        head, _, body = received.partition(b"\r\n\r\n")
        assert b"Content-Length: 15" in head
        while chunk := sock.recv(4096):
            body += chunk
        assert body == b"x" * 15
        assert time.monotonic() - head_done >= 0.4  # the body really trickled


# --- broken connections -------------------------------------------------------------------------


def test_reset_sends_rst(target):
    with pytest.raises(ConnectionResetError):
        raw_exchange(target.port("http"), b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")


def test_close_answers_nothing(target):
    assert raw_exchange(target.port("http"), b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n") == b""


def test_garbage_is_not_http(target):
    data = raw_exchange(target.port("http"), b"GET /garbage?bytes=500 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(data) == 500 and not data.startswith(b"HTTP")


def test_truncated_body_is_shorter_than_its_length(target):
    data = raw_exchange(target.port("http"), b"GET /truncated HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 1000" in head and len(body) == 10


def test_huge_streams_the_whole_body(target):
    status, headers, body = request(target, "/huge?mb=20")
    assert status == 200
    assert int(header(headers, "content-length")) == 20 * 1024 * 1024 == len(body)


def test_many_headers(target):
    data = raw_exchange(target.port("http"),
                        b"GET /headers/many?n=300 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = data.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0].startswith(b"HTTP/1.1 200")
    assert len([line for line in head if line.startswith(b"X-Many-")]) == 300


# --- redirects ----------------------------------------------------------------------------------


def test_redirect_chain_ends_at_status_200(target, tag):
    path, hops = f"/redirect/3?tag={tag}", 0
    while True:
        status, headers, _ = request(target, path)
        if status != 302:
            break
        path, hops = header(headers, "location"), hops + 1
    assert (status, hops) == (200, 3)
    assert path == f"/status/200?tag={tag}"
    assert target.count(tag) == 4


def test_absolute_redirect_and_custom_code(target):
    status, headers, _ = request(target, "/redirect/2?absolute=1&code=301")
    assert status == 301
    location = header(headers, "location")
    assert location == f"http://127.0.0.1:{target.port('http')}/redirect/1?absolute=1&code=301"


def test_redirect_loop_points_at_itself(target):
    status, headers, _ = request(target, "/redirect-loop?x=1")
    assert status == 302 and header(headers, "location") == "/redirect-loop?x=1"


def test_redirect_to_any_url(target):
    status, headers, _ = request(target, "/redirect-to?url=/status/204&code=307")
    assert status == 307 and header(headers, "location") == "/status/204"


# --- schedules and switchable state -------------------------------------------------------------


def test_flap_alternates_every_period_requests(target, tag):
    codes = [request(target, f"/flap?period=2&name={tag}")[0] for _ in range(6)]
    assert codes == [200, 200, 500, 500, 200, 200]
    codes = [request(target, f"/flap?period=1&name={tag}-d&start=down&down=503")[0]
             for _ in range(3)]
    assert codes == [503, 200, 503]


def test_flap_by_time_gives_up_or_down(target):
    assert request(target, "/flap?ms=100")[0] in (200, 500)


def test_sequence_repeats_its_last_code(target, tag):
    codes = [request(target, f"/sequence?codes=500,502,200&name={tag}")[0] for _ in range(5)]
    assert codes == [500, 502, 200, 200, 200]


def test_state_switches_by_library_call_and_by_control_request(target, tag):
    assert request(target, f"/state/{tag}")[0] == 200
    target.set_state(tag, 503)
    assert request(target, f"/state/{tag}")[0] == 503
    status, _, body = request(target, f"/control/state/{tag}?code=201&body=hi", method="POST")
    assert status == 200 and json.loads(body)["code"] == 201
    assert request(target, f"/state/{tag}")[0:3:2] == (201, b"hi")


# --- TLS ----------------------------------------------------------------------------------------


def test_valid_certificate_verifies_for_ip_and_localhost(target):
    for host in ("127.0.0.1", "localhost"):
        status, _, body = request(target, "/echo", listener="https", host=host)
        echoed = json.loads(body)
        assert status == 200 and echoed["tls"] is True
    assert echoed["sni"] == "localhost"  # SNI is sent for names, not IP addresses


@pytest.mark.parametrize("listener, reason", [
    ("https_self_signed", "self-signed certificate"),
    ("https_expired", "certificate has expired"),
    ("https_wrong_host", "IP address mismatch"),
])
def test_bad_certificates_fail_verification(target, listener, reason):
    with pytest.raises(ssl.SSLCertVerificationError, match=reason):
        request(target, "/", listener=listener)


def test_bad_certificates_still_serve_when_not_verified(target):
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    for listener in ("https_self_signed", "https_expired", "https_wrong_host"):
        assert request(target, "/status/200", listener=listener, context=insecure)[0] == 200


def test_wrong_host_certificate_verifies_for_its_own_name(target):
    context = ssl.create_default_context(cafile=target.ca_file)
    with socket.create_connection(("127.0.0.1", target.port("https_wrong_host")), 5) as sock:
        with context.wrap_socket(sock, server_hostname="wrong.example") as tls:
            assert tls.version()


def _peer_chain(port: int, ca_file: str) -> str:
    completed = pharos.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile",
                            ca_file, "-servername", "localhost", "-showcerts"],
                           input_text="", timeout=20)
    return completed.stdout


def test_expiry_times_match_what_is_served(target):
    now = dt.datetime.now(dt.timezone.utc)
    certs = target.describe()["certs"]
    expiring = parse_rfc3339(certs["https_expiring"]["not_after"])
    assert dt.timedelta(days=2, hours=23) < expiring - now <= dt.timedelta(days=3)
    assert parse_rfc3339(certs["https_expired"]["not_after"]) < now
    chain = certs["https_chain"]
    assert parse_rfc3339(chain["earliest_not_after"]) < parse_rfc3339(chain["not_after"])
    served = _peer_chain(target.port("https_chain"), target.ca_file)
    assert served.count("BEGIN CERTIFICATE") == 2
    assert "Verify return code: 0 (ok)" in served
    context = ssl.create_default_context(cafile=target.ca_file)
    with socket.create_connection(("127.0.0.1", target.port("https_expiring")), 5) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            not_after = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
    assert abs(not_after - expiring.timestamp()) < 1


# --- listeners that never answer ----------------------------------------------------------------


def test_blackhole_accepts_but_never_answers(target):
    with socket.create_connection(("127.0.0.1", target.port("blackhole")), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(1)


def test_stall_port_never_completes_a_connect(target):
    with pytest.raises((socket.timeout, TimeoutError)):
        socket.create_connection(("127.0.0.1", target.port("stall")), timeout=0.5)


def test_refused_port_refuses(target):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", target.port("refused")), timeout=2)


# --- scale ----------------------------------------------------------------------------------------


def test_serves_two_thousand_concurrent_connections(target, tag):
    port = target.port("http")
    connections = 2000

    async def one(index: int, opened: asyncio.Barrier) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await opened.wait()  # every connection is open at the same time before any request
        writer.write(f"GET /status/200?tag={tag}&i={index} HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
        return int(data.split(b" ", 2)[1])

    async def all_of_them():
        opened = asyncio.Barrier(connections)
        return await asyncio.wait_for(
            asyncio.gather(*(one(index, opened) for index in range(connections))), 120)

    from target_server import raise_open_files_limit
    raise_open_files_limit()
    codes = asyncio.run(all_of_them())
    assert codes == [200] * connections
    assert target.count(tag) == connections


# --- the CLI form ---------------------------------------------------------------------------------


def test_cli_process_reports_ports_and_stops_on_sigterm(tmp_path):
    with TargetServerProcess() as process:
        info = process.info
        for listener in ("http", "https", "https_self_signed", "https_expired",
                         "https_wrong_host", "https_expiring", "https_chain", "blackhole",
                         "stall", "refused"):
            assert isinstance(info[listener], int) and info[listener] > 0, listener
        assert os.path.exists(info["ca_file"])
        connection = http.client.HTTPConnection("127.0.0.1", info["http"], timeout=5)
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200
        connection.close()
        pid = info["pid"]
        assert pid == process.process.pid
    assert process.process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_cli_honours_fixed_ports_and_ready_file(tmp_path):
    http_port = pharos.free_port()
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        ["python3", str(pharos.REPO_ROOT / "tests/support/target_server.py"), "--http-port",
         str(http_port), "--https-port", "0", "--ready-file", str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pharos.wait_for(ready.exists, timeout=30, message="the ready file")
        info = json.loads(ready.read_text())
        assert info["http"] == http_port
        assert json.loads(process.stdout.readline()) == info
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        process.stdout.close()
        process.stderr.close()
    assert not ready.exists()


# --- the DNS fixture ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, record_type", sorted(dns_server.DEFAULT_RECORDS))
def test_dns_answers_every_default_record(dns, name, record_type):
    answer = dns.query(name, record_type)
    assert answer.rcode_name == "NOERROR"
    assert sorted(answer.records) == sorted(dns_server.DEFAULT_RECORDS[(name, record_type)])


def test_dns_nxdomain_and_tcp(dns):
    assert dns.query(dns_server.NXDOMAIN_NAME).rcode_name == "NXDOMAIN"
    assert dns.query("ok.test", "A", tcp=True).records == ["127.0.0.1"]


def test_dns_server_stops_by_pid():
    server = dns_server.DnsServer().start()
    pid = server.process.pid
    assert server.query("ok.test").records == ["127.0.0.1"]
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_dns_fixture_names_the_fix_when_dnsmasq_is_missing(monkeypatch):
    monkeypatch.setattr(dns_server, "DNSMASQ_CANDIDATES", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(dns_server.DnsmasqMissing, match="scripts/setup"):
        dns_server.DnsServer().start()


# --- helpers --------------------------------------------------------------------------------------


def test_wait_for_returns_the_value_or_times_out():
    calls = []
    assert pharos.wait_for(lambda: calls.append(1) or len(calls) >= 3 and "done",
                           timeout=5, interval=0.001) == "done"
    with pytest.raises(TimeoutError, match="the impossible"):
        pharos.wait_for(lambda: False, timeout=0.05, message="the impossible")


def test_run_kills_a_command_at_its_deadline():
    with pytest.raises(AssertionError, match="did not finish"):
        pharos.run(["sleep", "30"], timeout=0.2)
