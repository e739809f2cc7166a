#!/usr/bin/env python3
"""A real DNS server for tests: Debian's dnsmasq on 127.0.0.1, on a free UDP+TCP port, with a
fixed set of records under the `test.` domain and no upstream (nothing leaves the machine).

    with DnsServer() as dns:
        dns.server            # "127.0.0.1:PORT", for a Monitor's spec.dns.server
        dns.query("ok.test", "A")   # -> DnsAnswer(rcode=0, records=["127.0.0.1"])

Records (DEFAULT_RECORDS; pass extra dnsmasq options with extra_args=[...]). dnsmasq is the
authoritative server for the zone `test.` (so NS and NXDOMAIN answers are real); names outside
it are REFUSED:

    ok.test           A     127.0.0.1
    multi.test        A     127.0.0.1, 127.0.0.2
    v6.test           A     127.0.0.1      AAAA ::1
    alias.test        CNAME v6.test
    mail.test         MX    10 mx1.test    (mx1.test A 127.0.0.3)
    txt.test          TXT   "v=spf1 -all"
    test              NS    ns1.test       (ns1.test A 127.0.0.1)
    anything-else.test      NXDOMAIN

Also a tiny stdlib DNS client (build_query / parse_response / query) so tests can check the
server and compare answers without dig.

CLI: `python3 tests/support/dns_server.py [--ready-file F]` prints {"pid","port","server"}.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

DNSMASQ_CANDIDATES = ("/usr/sbin/dnsmasq", "/usr/bin/dnsmasq")
RECORD_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {number: name for name, number in RECORD_TYPES.items()}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED"}

# Kept in one place so tests can assert against the same values the server answers with.
DEFAULT_RECORDS = {
    ("ok.test", "A"): ["127.0.0.1"],
    ("multi.test", "A"): ["127.0.0.1", "127.0.0.2"],
    ("v6.test", "A"): ["127.0.0.1"],
    ("v6.test", "AAAA"): ["::1"],
    ("alias.test", "CNAME"): ["v6.test"],
    ("mail.test", "MX"): ["10 mx1.test"],
    ("mx1.test", "A"): ["127.0.0.3"],
    ("txt.test", "TXT"): ["v=spf1 -all"],
    ("test", "NS"): ["ns1.test"],
    ("ns1.test", "A"): ["127.0.0.1"],
}
NXDOMAIN_NAME = "does-not-exist.test"


def default_args(listen_address: str) -> list[str]:
    """dnsmasq options serving DEFAULT_RECORDS authoritatively for the zone `test.`."""
    return [
        "--auth-zone=test",
        f"--auth-server=ns1.test,{listen_address}",  # NS record; queries there are authoritative
        "--host-record=ns1.test,127.0.0.1",
        "--host-record=ok.test,127.0.0.1",
        "--host-record=multi.test,127.0.0.1",
        "--host-record=multi.test,127.0.0.2",
        "--host-record=v6.test,127.0.0.1,::1",
        "--cname=alias.test,v6.test",
        "--mx-host=mail.test,mx1.test,10",
        "--host-record=mx1.test,127.0.0.3",
        "--txt-record=txt.test,v=spf1 -all",  # argv, not a config file: no quoting needed
    ]


class DnsmasqMissing(RuntimeError):
    pass


def find_dnsmasq() -> str:
    for candidate in DNSMASQ_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("dnsmasq")
    if found:
        return found
    raise DnsmasqMissing("dnsmasq is not installed (Debian package dnsmasq-base); "
                         "run scripts/setup to install the test dependencies")


# --------------------------------------------------------------------------------------------
# Minimal DNS client (RFC 1035), enough for A AAAA CNAME NS MX TXT SOA answers.


@dataclass
class DnsAnswer:
    rcode: int
    records: list[str]  # answers of the asked type, as text ("10 mx1.test" for MX)
    all_records: list[tuple[str, str, str]]  # (owner, type, text) for every answer RR
    authoritative: bool

    @property
    def rcode_name(self) -> str:
        return RCODE_NAMES.get(self.rcode, str(self.rcode))


def build_query(name: str, record_type: str, query_id: int | None = None) -> bytes:
    query_id = random.randrange(1 << 16) if query_id is None else query_id
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # RD set
    labels = b"".join(bytes([len(label)]) + label.encode("ascii")
                      for label in name.rstrip(".").split(".") if label)
    return header + labels + b"\x00" + struct.pack("!HH", RECORD_TYPES[record_type], 1)


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    labels: list[str] = []
    end_offset = None
    for _ in range(128):  # bounded: a compression loop cannot hang us
        length = message[offset]
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack_from("!H", message, offset)[0] & 0x3FFF
            if end_offset is None:
                end_offset = offset + 2
            offset = pointer
            continue
        if length == 0:
            return ".".join(labels), (end_offset if end_offset is not None else offset + 1)
        labels.append(message[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    raise ValueError("DNS name compression loop")


def _rdata_text(message: bytes, record_type: int, offset: int, length: int) -> str:
    data = message[offset:offset + length]
    if record_type == 1:
        return str(ipaddress.IPv4Address(data))
    if record_type == 28:
        return str(ipaddress.IPv6Address(data))
    if record_type in (2, 5):
        return _read_name(message, offset)[0]
    if record_type == 15:
        preference = struct.unpack_from("!H", message, offset)[0]
        return f"{preference} {_read_name(message, offset + 2)[0]}"
    if record_type == 16:
        parts, position = [], 0
        while position < len(data):
            size = data[position]
            parts.append(data[position + 1:position + 1 + size].decode("utf-8", "replace"))
            position += 1 + size
        return "".join(parts)
    if record_type == 6:
        primary, next_offset = _read_name(message, offset)
        return primary
    return data.hex()


def parse_response(message: bytes, query_id: int | None = None) -> DnsAnswer:
    (reply_id, flags, questions, answers, _, _) = struct.unpack_from("!HHHHHH", message, 0)
    if query_id is not None and reply_id != query_id:
        raise ValueError("DNS reply id does not match the query")
    offset = 12
    asked_type = None
    for _ in range(questions):
        _, offset = _read_name(message, offset)
        asked_type = struct.unpack_from("!H", message, offset)[0]
        offset += 4
    records: list[str] = []
    all_records: list[tuple[str, str, str]] = []
    for _ in range(answers):
        owner, offset = _read_name(message, offset)
        record_type, _, _, length = struct.unpack_from("!HHIH", message, offset)
        offset += 10
        text = _rdata_text(message, record_type, offset, length)
        offset += length
        all_records.append((owner, TYPE_NAMES.get(record_type, str(record_type)), text))
        if record_type == asked_type:
            records.append(text)
    return DnsAnswer(rcode=flags & 0xF, records=records, all_records=all_records,
                     authoritative=bool(flags & 0x0400))


def query(server: tuple[str, int], name: str, record_type: str = "A", timeout: float = 2.0,
          tcp: bool = False) -> DnsAnswer:
    """One DNS query to `server` (host, port) over UDP (or TCP). Raises OSError/TimeoutError."""
    query_id = random.randrange(1 << 16)
    packet = build_query(name, record_type, query_id)
    if tcp:
        with socket.create_connection(server, timeout=timeout) as connection:
            connection.sendall(struct.pack("!H", len(packet)) + packet)
            size = struct.unpack("!H", _recv_exactly(connection, 2))[0]
            return parse_response(_recv_exactly(connection, size), query_id)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        udp.sendto(packet, server)
        deadline = time.monotonic() + timeout
        while True:
            udp.settimeout(max(0.01, deadline - time.monotonic()))
            reply, _ = udp.recvfrom(65535)
            with contextlib.suppress(ValueError):
                return parse_response(reply, query_id)


def _recv_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("DNS server closed the TCP connection")
        data += chunk
    return data


# --------------------------------------------------------------------------------------------
# The dnsmasq fixture.


def _free_udp_and_tcp_port(host: str) -> int:
    """A port free for both UDP and TCP right now (dnsmasq needs both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP on loopback")


class DnsServer:
    """dnsmasq as a child process (foreground, no daemon), stopped by PID. Not thread-safe:
    start and stop from one thread."""

    def __init__(self, extra_args: list[str] | None = None, host: str = "127.0.0.1",
                 with_default_records: bool = True, port: int = 0) -> None:
        """`port` 0 = a free one. A fixed port (53, for a resolv.conf, which names no port)
        wants a loopback `host` of its own (e.g. 127.0.53.53)."""
        if not ipaddress.ip_address(host).is_loopback or ":" in host:
            raise ValueError("the DNS fixture only listens on IPv4 loopback addresses")
        self.host = host
        self.extra_args = list(extra_args or [])
        self.with_default_records = with_default_records
        self.fixed_port = port
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log_dir: str | None = None

    @property
    def server(self) -> str:
        """"127.0.0.1:PORT", the form spec.dns.server takes."""
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return Path(self._log_dir) / "dnsmasq.log"

    def command(self, port: int) -> list[str]:
        return [find_dnsmasq(), "--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--no-poll", "--pid-file=", "--user=root",
                f"--port={port}", f"--listen-address={self.host}", "--bind-interfaces",
                "--log-queries", f"--log-facility={self.log_file}",
                *(default_args(self.host) if self.with_default_records else []), *self.extra_args]

    def start(self, timeout: float = 15) -> "DnsServer":
        find_dnsmasq()  # fails with the scripts/setup hint before anything else
        self._log_dir = tempfile.mkdtemp(prefix="pharos-dnsmasq-")
        last_error = ""
        for _ in range(5):  # the free port may be taken between choosing and binding it
            port = self.fixed_port or _free_udp_and_tcp_port(self.host)
            self.process = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.port = port
            try:
                self._wait_until_answering(timeout)
                return self
            except _Exited as exc:
                last_error = str(exc)
                if "in use" not in last_error or self.fixed_port:
                    break
        self.stop()
        raise RuntimeError(f"dnsmasq did not start: {last_error}")

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace").strip()
                raise _Exited(f"dnsmasq exited with {self.process.returncode}: {stderr}")
            try:
                answer = query((self.host, self.port), "ok.test" if self.with_default_records
                               else "localhost", "A", timeout=0.2)
                if answer.rcode in (0, 3) or not self.with_default_records:
                    return
            except (OSError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise _Exited("dnsmasq did not answer a query in time")
            time.sleep(0.02)

    def query(self, name: str, record_type: str = "A", tcp: bool = False) -> DnsAnswer:
        return query((self.host, self.port), name, record_type, tcp=tcp)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None
        if self._log_dir:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class _Exited(RuntimeError):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the test DNS server (dnsmasq) on loopback.")
    parser.add_argument("--ready-file", help="write {pid, port, server} here once answering")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        server = DnsServer().start()
    except (DnsmasqMissing, RuntimeError) as exc:
        print(f"dns_server: {exc}", file=sys.stderr)
        return 1
    description = json.dumps({"pid": server.process.pid, "port": server.port,
                              "server": server.server})
    print(description, flush=True)
    if args.ready_file:
        temporary = Path(args.ready_file + ".tmp")
        temporary.write_text(description + "\n")
        os.replace(temporary, args.ready_file)
    try:
        while not stopping.wait(1) and server.process.poll() is None:
            pass
    finally:
        server.stop()
        if args.ready_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
