#!/usr/bin/env python3
"""A local fault-injecting HTTP(S)/TCP target for Pharos tests, benchmarks and the demo.

Loopback only. Every behaviour is chosen by the request path and query, so a Monitor's URL fully
determines what it gets (endpoints: tests/support/README.md). One asyncio event loop serves all
listeners, so thousands of concurrent connections are fine.

Listeners (all on 127.0.0.1, ports chosen by the OS unless given):
  http               plain HTTP
  https              TLS, certificate signed by the test CA for localhost/127.0.0.1/::1
  https_self_signed  TLS, self-signed certificate
  https_expired      TLS, CA-signed certificate that expired a day ago
  https_wrong_host   TLS, CA-signed certificate for wrong.example only
  https_expiring     TLS, CA-signed certificate expiring in --expiring-days days
  https_chain        TLS, leaf (60 d) + intermediate (20 d) signed by the test CA
  blackhole          accepts connections, reads everything, never answers (first-byte / TLS
                     handshake timeouts)
  stall              listens with a full accept queue and never accepts (connect timeouts)
  refused            a bound port that does not listen (connection refused)

Library use (in-process, background thread "target-server"):

    with TargetServer() as target:
        url = target.url("/status/503")              # http://127.0.0.1:P/status/503
        url = target.url("/health", listener="https_expired")
        target.count("mytag"); target.set_state("db", 503); target.requests("mytag")

CLI use (for C++ tests, benchmarks, the demo):

    python3 tests/support/target_server.py --http-port 0 --https-port 0 --ready-file F

prints one JSON line with every port, the CA file and certificate expiry times, writes the same
JSON to F (atomically) and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import errno
import http
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from certs import TestPki, make_test_pki  # noqa: E402

# 127.0.0.2: a second loopback address, for tests that deny one address and keep the other.
LOOPBACK_HOSTS = ("127.0.0.1", "127.0.0.2", "::1")
TLS_LISTENERS = {
    "https": "valid",
    "https_self_signed": "self_signed",
    "https_expired": "expired",
    "https_wrong_host": "wrong_host",
    "https_expiring": "expiring",
    "https_chain": "chain",
}
MAX_HEADER_BYTES = 256 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
RECORDED_REQUESTS_PER_TAG = 200
HEALTH_BODY = b'{"status":"ok","checks":{"db":"up"}}'


def raise_open_files_limit() -> None:
    """Lets one process hold thousands of sockets (soft limit up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------------------------
# Shared state (counters, switchable states, recorded requests). Touched by the loop thread and
# by the test thread through TargetServer's methods, hence the lock.


class TargetState:
    """Counters, switchable states and recorded requests. Thread-safe (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._sequence_index: collections.Counter[str] = collections.Counter()
        self._states: dict[str, tuple[int, str]] = {}
        self._requests: dict[str, collections.deque] = {}

    def record(self, tag: str, request_info: dict) -> None:
        with self._lock:
            self._counts[tag] += 1
            self._requests.setdefault(
                tag, collections.deque(maxlen=RECORDED_REQUESTS_PER_TAG)).append(request_info)

    def count(self, tag: str) -> int:
        with self._lock:
            return self._counts[tag]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def requests(self, tag: str) -> list[dict]:
        with self._lock:
            return list(self._requests.get(tag, ()))

    def reset_count(self, tag: str) -> None:
        with self._lock:
            self._counts.pop(tag, None)
            self._requests.pop(tag, None)

    def next_index(self, key: str) -> int:
        """0 for the first call with `key`, then 1, 2, ... (flap and sequence schedules)."""
        with self._lock:
            index = self._sequence_index[key]
            self._sequence_index[key] += 1
            return index

    def set_state(self, name: str, code: int, body: str | None = None) -> None:
        with self._lock:
            self._states[name] = (code, body if body is not None else f"state {name}: {code}\n")

    def state(self, name: str) -> tuple[int, str]:
        with self._lock:
            return self._states.get(name, (200, f"state {name}: 200\n"))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._sequence_index.clear()
            self._states.clear()
            self._requests.clear()


# --------------------------------------------------------------------------------------------
# HTTP/1.1 plumbing.


class BadRequest(Exception):
    pass


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)
    listener: str = "http"
    tls: bool = False
    sni: str | None = None
    client: str = ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int, low: int = 0, high: int = 1 << 40) -> int:
        text = self.arg(name)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError as exc:
            raise BadRequest(f"query parameter {name}={text!r} is not a whole number") from exc
        if not low <= value <= high:
            raise BadRequest(f"query parameter {name}={value} is outside {low}..{high}")
        return value

    def wants_keep_alive(self) -> bool:
        connection = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    def describe(self) -> dict:
        """JSON form for /echo and the request recorder."""
        joined: dict[str, str] = {}
        for key, value in self.headers:
            lowered = key.lower()
            joined[lowered] = f"{joined[lowered]}, {value}" if lowered in joined else value
        try:
            body_text = self.body.decode("utf-8")
            body_base64 = None
        except UnicodeDecodeError:
            body_text = None
            body_base64 = base64.b64encode(self.body).decode("ascii")
        return {
            "method": self.method, "target": self.target, "path": self.path,
            "query": self.query, "httpVersion": self.version, "headers": joined,
            "headerList": [[key, value] for key, value in self.headers], "body": body_text,
            "bodyBase64": body_base64, "listener": self.listener, "tls": self.tls,
            "sni": self.sni, "client": self.client, "time": time.time(),
        }


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Reads one request; None on a clean end of stream before any byte."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequest("connection closed inside the request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0].split(" ")
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line {lines[0][:80]!r}")
    method, target, version = request_line
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(f"malformed header line {line[:80]!r}")
        headers.append((name, value.strip()))
    request = Request(method=method, target=target, version=version, headers=headers, body=b"")
    transfer_encoding = (request.header("transfer-encoding") or "").lower()
    if "chunked" in transfer_encoding:
        request.body = await read_chunked_body(reader)
    else:
        length_text = request.header("content-length")
        if length_text:
            try:
                length = int(length_text)
            except ValueError as exc:
                raise BadRequest("bad Content-Length") from exc
            if not 0 <= length <= MAX_BODY_BYTES:
                raise BadRequest("Content-Length out of range")
            request.body = await reader.readexactly(length)
    split = urllib.parse.urlsplit(target)
    request.path = urllib.parse.unquote(split.path) or "/"
    request.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    return request


async def read_chunked_body(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError as exc:
            raise BadRequest("bad chunk size") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers are ignored
            return bytes(body)
        if len(body) + size > MAX_BODY_BYTES:
            raise BadRequest("chunked body too large")
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def reason_phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def response_head(code: int, headers: list[tuple[str, str]], keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {code} {reason_phrase(code)}"]
    names = {name.lower() for name, _ in headers}
    if "date" not in names:
        lines.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    if "server" not in names:
        lines.append("Server: pharos-target")
    lines += [f"{name}: {value}" for name, value in headers]
    if "connection" not in names:
        lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Response:
    code: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "text/plain; charset=utf-8"


def json_response(value, code: int = 200) -> Response:
    return Response(code, json.dumps(value, indent=None, sort_keys=True).encode() + b"\n",
                    content_type="application/json")


class ConnectionDone(Exception):
    """Raised by a handler that already wrote (or deliberately did not write) its answer and
    closed the connection."""


# --------------------------------------------------------------------------------------------
# The application: request path/query → behaviour.


class TargetApp:
    """Maps a request to its behaviour. Runs on the event-loop thread."""

    def __init__(self, state: TargetState) -> None:
        self.state = state

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> Response | None:
        tag = request.arg("tag")
        if tag:
            self.state.record(tag, request.describe())
        path = request.path
        parts = [part for part in path.split("/") if part]
        head = parts[0] if parts else ""

        if head == "control":
            return self.control(request, parts[1:])
        if path == "/":
            return Response(200, b"pharos target: see tests/support/README.md\n")
        if head == "status" and len(parts) == 2:
            return self.status(request, self.parse_code(parts[1]))
        if path == "/health":
            return Response(200, HEALTH_BODY, content_type="application/json")
        if path == "/json":
            data = request.arg("data", "{}")
            return self.status(request, request.int_arg("code", 200, 100, 599),
                               default_body=data.encode(), default_type="application/json")
        if path == "/echo":
            return json_response(request.describe())
        if path == "/slow/first-byte":
            await asyncio.sleep(request.int_arg("ms", 1000, 0, 3_600_000) / 1000)
            return self.status(request, request.int_arg("code", 200, 100, 599))
        if path == "/slow/body":
            await self.slow_body(request, writer)
            return None
        if path == "/reset":
            abort_with_rst(writer)
            raise ConnectionDone
        if path == "/close":
            writer.close()
            raise ConnectionDone
        if path == "/garbage":
            size = request.int_arg("bytes", 4096, 1, MAX_BODY_BYTES)
            writer.write(garbage_bytes(size))
            await writer.drain()
            writer.close()
            raise ConnectionDone
        if path == "/truncated":
            writer.write(response_head(200, [("Content-Length", "1000"),
                                             ("Content-Type", "text/plain")], False))
            writer.write(b"only ten b")
            await writer.drain()
            writer.close()
            raise ConnectionDone
        if path == "/huge":
            await self.huge(request, writer)
            return None
        if path == "/headers/many":
            count = request.int_arg("n", 100, 0, 100_000)
            size = request.int_arg("size", 16, 1, 8192)
            headers = [(f"X-Many-{index}", "v" * size) for index in range(count)]
            return Response(200, f"{count} headers\n".encode(), headers)
        if head == "redirect" and len(parts) == 2:
            return self.redirect_chain(request, parts[1])
        if path == "/redirect-loop":
            return self.redirect(request, request.target)
        if path == "/redirect-to":
            location = request.arg("url")
            if not location:
                raise BadRequest("/redirect-to needs ?url=")
            return self.redirect(request, location)
        if path == "/flap":
            return self.flap(request)
        if path == "/sequence":
            return self.sequence(request)
        if head == "state" and len(parts) == 2:
            code, body = self.state.state(parts[1])
            return Response(code, body.encode())
        return Response(404, f"no such endpoint: {path}\n".encode())

    @staticmethod
    def parse_code(text: str) -> int:
        if not text.isdigit() or not 100 <= int(text) <= 599:
            raise BadRequest(f"status code {text!r} must be 100..599")
        return int(text)

    @staticmethod
    def status(request: Request, code: int, default_body: bytes | None = None,
               default_type: str = "text/plain; charset=utf-8") -> Response:
        body = request.arg("body")
        if body is not None:
            payload = body.encode()
        elif default_body is not None:
            payload = default_body
        else:
            payload = f"{code} {reason_phrase(code)}\n".encode()
        headers = []
        for item in request.query.get("header", []):
            name, colon, value = item.partition(":")
            if not colon or not name.strip():
                raise BadRequest(f"header={item!r} must be Name:Value")
            headers.append((name.strip(), value.strip()))
        return Response(code, payload, headers,
                        content_type=request.arg("content_type", default_type))

    async def slow_body(self, request: Request, writer: asyncio.StreamWriter) -> None:
        total_ms = request.int_arg("ms", 1000, 0, 3_600_000)
        chunks = request.int_arg("chunks", 10, 1, 100_000)
        chunk = b"x" * request.int_arg("chunk_bytes", 64, 1, 1 << 20)
        keep_alive = request.wants_keep_alive()
        writer.write(response_head(200, [("Content-Type", "text/plain"),
                                         ("Content-Length", str(len(chunk) * chunks))],
                                   keep_alive))
        await writer.drain()
        for _ in range(chunks):
            await asyncio.sleep(total_ms / chunks / 1000)
            writer.write(chunk)
            await writer.drain()

    async def huge(self, request: Request, writer: asyncio.StreamWriter) -> None:
        total = request.int_arg("mb", 10, 0, 100_000) * 1024 * 1024
        total += request.int_arg("bytes", 0, 0, 1 << 40)
        block = (b"0123456789abcdef" * 4096)  # 64 KiB
        writer.write(response_head(200, [("Content-Type", "application/octet-stream"),
                                         ("Content-Length", str(total))],
                                   request.wants_keep_alive()))
        if request.method == "HEAD":
            return
        sent = 0
        while sent < total:
            piece = block[:min(len(block), total - sent)]
            writer.write(piece)
            sent += len(piece)
            await writer.drain()

    def redirect_chain(self, request: Request, count_text: str) -> Response:
        if not count_text.isdigit():
            raise BadRequest("/redirect/{n} needs a whole number")
        remaining = int(count_text)
        query = urllib.parse.urlsplit(request.target).query
        if remaining <= 0:
            return self.status(request, 200)
        next_path = "/status/200" if remaining == 1 else f"/redirect/{remaining - 1}"
        if query:
            next_path += "?" + query
        return self.redirect(request, next_path)

    @staticmethod
    def redirect(request: Request, location: str) -> Response:
        code = request.int_arg("code", 302, 300, 399)
        if request.arg("absolute") in ("1", "true") and location.startswith("/"):
            scheme = "https" if request.tls else "http"
            location = f"{scheme}://{request.header('host')}{location}"
        return Response(code, f"redirecting to {location}\n".encode(),
                        [("Location", location)])

    def flap(self, request: Request) -> Response:
        """Alternates between `up` (200) and `down` (500) codes: every `period` requests (per
        `name`), or every `ms` milliseconds of wall time when ms is given."""
        up_code = request.int_arg("up", 200, 100, 599)
        down_code = request.int_arg("down", 500, 100, 599)
        start_down = request.arg("start", "up") == "down"
        period_ms = request.int_arg("ms", 0, 0, 86_400_000)
        if period_ms:
            phase = int(time.time() * 1000) // period_ms
        else:
            period = request.int_arg("period", 1, 1, 1_000_000)
            phase = self.state.next_index("flap:" + request.arg("name", "default")) // period
        is_down = (phase % 2 == 1) != start_down
        code = down_code if is_down else up_code
        return Response(code, f"flap: {'down' if is_down else 'up'} {code}\n".encode())

    def sequence(self, request: Request) -> Response:
        """The n-th request (per `name`) gets the n-th code of `codes`; the last code repeats."""
        codes = [self.parse_code(code) for code in request.arg("codes", "200").split(",")]
        index = self.state.next_index("sequence:" + request.arg("name", "default"))
        code = codes[min(index, len(codes) - 1)]
        return Response(code, f"sequence #{index}: {code}\n".encode())

    def control(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        if parts == ["count"] and method == "GET":
            return json_response(self.state.counts())
        if len(parts) == 2 and parts[0] == "count":
            if method == "DELETE":
                self.state.reset_count(parts[1])
            return json_response({"name": parts[1], "count": self.state.count(parts[1])})
        if len(parts) == 2 and parts[0] == "requests":
            return json_response(self.state.requests(parts[1]))
        if len(parts) == 2 and parts[0] == "state":
            if method in ("POST", "PUT"):
                self.state.set_state(parts[1], request.int_arg("code", 200, 100, 599),
                                     request.arg("body"))
            code, body = self.state.state(parts[1])
            return json_response({"name": parts[1], "code": code, "body": body})
        if parts == ["reset"] and method == "POST":
            self.state.reset()
            return json_response({"reset": True})
        return Response(404, b"unknown control endpoint\n")


def garbage_bytes(size: int) -> bytes:
    """Deterministic binary bytes that are not HTTP (they start with NUL and 0xff)."""
    pattern = bytes([0x00, 0xFF, 0xFE, 0x01]) + bytes(range(255, -1, -1))
    return (pattern * (size // len(pattern) + 1))[:size]


def abort_with_rst(writer: asyncio.StreamWriter) -> None:
    """Closes the connection with a TCP RST (SO_LINGER on, timeout 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# --------------------------------------------------------------------------------------------
# The server: listeners, connection handling, lifecycle.


class _Loop:
    """Everything that lives on the event loop: listeners and open connections."""

    def __init__(self, app: TargetApp, host: str, pki: TestPki, ports: dict[str, int],
                 verbose: bool) -> None:
        self.app = app
        self.host = host
        self.pki = pki
        self.requested_ports = ports
        self.verbose = verbose
        self.servers: list[asyncio.AbstractServer] = []
        self.raw_sockets: list[socket.socket] = []
        self.connections: set[asyncio.Task] = set()
        self.ports: dict[str, int] = {}
        self.stop_event: asyncio.Event | None = None

    async def start(self) -> None:
        self.stop_event = asyncio.Event()
        await self._serve("http", None)
        for listener, scenario in TLS_LISTENERS.items():
            await self._serve(listener, self._tls_context(scenario))
        blackhole = await asyncio.start_server(self._blackhole, self.host,
                                               self.requested_ports.get("blackhole", 0),
                                               backlog=4096)
        self.servers.append(blackhole)
        self.ports["blackhole"] = blackhole.sockets[0].getsockname()[1]
        self.ports["stall"] = self._stalled_listener()
        self.ports["refused"] = self._refusing_port()

    def _tls_context(self, scenario: str) -> ssl.SSLContext:
        files = self.pki.certs[scenario]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files.cert_file, files.key_file)
        context.set_alpn_protocols(["http/1.1"])

        def remember_sni(ssl_object, server_name, _context):
            ssl_object.pharos_sni = server_name

        context.sni_callback = remember_sni
        return context

    async def _serve(self, listener: str, context: ssl.SSLContext | None) -> None:
        async def on_connection(reader, writer):
            await self._connection(listener, reader, writer)

        tls_options = {"ssl": context, "ssl_handshake_timeout": 30} if context else {}
        server = await asyncio.start_server(on_connection, self.host,
                                            self.requested_ports.get(listener, 0),
                                            backlog=4096, limit=MAX_HEADER_BYTES, **tls_options)
        self.servers.append(server)
        self.ports[listener] = server.sockets[0].getsockname()[1]

    def _stalled_listener(self) -> int:
        """A listening socket whose accept queue is full and never drained: new SYNs are
        dropped, so connecting hangs until the client's own timeout."""
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        listener.bind((self.host, self.requested_ports.get("stall", 0)))
        listener.listen(0)
        self.raw_sockets.append(listener)
        address = listener.getsockname()[:2]
        for _ in range(16):
            filler = socket.socket(listener.family)
            filler.settimeout(0.3)
            try:
                filler.connect(address)
            except (socket.timeout, BlockingIOError):
                filler.close()  # this one hung: the queue is full
                return address[1]
            self.raw_sockets.append(filler)
        raise RuntimeError("could not fill the accept queue of the stall listener")

    def _refusing_port(self) -> int:
        """A port that is bound (so no one else takes it) but not listening: connect → RST."""
        holder = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        holder.bind((self.host, self.requested_ports.get("refused", 0)))
        self.raw_sockets.append(holder)
        return holder.getsockname()[1]

    async def _blackhole(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        self.connections.add(task)
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self.connections.discard(task)
            writer.transport.abort()

    async def _connection(self, listener: str, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.connections.add(task)
        ssl_object = writer.get_extra_info("ssl_object")
        peer = writer.get_extra_info("peername")
        client = f"{peer[0]}:{peer[1]}" if peer else ""
        try:
            while True:
                try:
                    request = await read_request(reader)
                except BadRequest as exc:
                    await self._write(writer, Response(400, f"bad request: {exc}\n".encode()),
                                      "GET", False)
                    break
                if request is None:
                    break
                request.listener = listener
                request.tls = ssl_object is not None
                request.sni = getattr(ssl_object, "pharos_sni", None) if ssl_object else None
                request.client = client
                keep_alive = request.wants_keep_alive()
                try:
                    response = await self.app.handle(request, writer)
                except BadRequest as exc:
                    response = Response(400, f"bad request: {exc}\n".encode())
                    keep_alive = False
                if self.verbose:
                    print(f"target {listener} {client} {request.method} {request.target} -> "
                          f"{response.code if response else 'streamed'}", file=sys.stderr)
                if response is not None:
                    await self._write(writer, response, request.method, keep_alive)
                if not keep_alive:
                    break
        except ConnectionDone:
            return
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError,
                asyncio.CancelledError):
            pass
        finally:
            self.connections.discard(task)
            if not writer.is_closing():
                writer.close()

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: Response, method: str,
                     keep_alive: bool) -> None:
        headers = list(response.headers)
        names = {name.lower() for name, _ in headers}
        if response.content_type and "content-type" not in names:
            headers.append(("Content-Type", response.content_type))
        no_body = response.code in (204, 304) or 100 <= response.code < 200
        if not no_body and "content-length" not in names:
            headers.append(("Content-Length", str(len(response.body))))
        writer.write(response_head(response.code, headers, keep_alive))
        if method != "HEAD" and not no_body:
            writer.write(response.body)
        await writer.drain()

    async def run_until_stopped(self) -> None:
        await self.stop_event.wait()
        for server in self.servers:
            server.close()
        for task in list(self.connections):
            task.cancel()
        if self.connections:
            await asyncio.wait(list(self.connections), timeout=5)
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=5)
        for sock in self.raw_sockets:
            sock.close()


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Clients that reject our test certificates or vanish mid-handshake are the point of the
    exercise; only unexpected errors are printed."""
    exception = context.get("exception")
    if isinstance(exception, (ssl.SSLError, ConnectionError, OSError, TimeoutError)):
        return
    loop.default_exception_handler(context)


class TargetServer:
    """The target server on a background thread ("target-server"). start() returns once every
    listener is bound; stop() closes everything and joins the thread. Thread-safe: the query and
    control methods may be called from any thread."""

    def __init__(self, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
                 cert_dir: str | os.PathLike | None = None, expiring_days: int = 3,
                 verbose: bool = False) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the target server only listens on loopback, not {host!r}")
        self.host = host
        self.expiring_days = expiring_days
        self.verbose = verbose
        self.state = TargetState()
        self._requested_ports = dict(ports or {})
        self._own_cert_dir = cert_dir is None
        self._cert_dir = Path(cert_dir) if cert_dir else None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inner: _Loop | None = None
        self.pki: TestPki | None = None
        self.ports: dict[str, int] = {}

    # lifecycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> "TargetServer":
        raise_open_files_limit()
        if self._cert_dir is None:
            self._cert_dir = Path(tempfile.mkdtemp(prefix="pharos-target-certs-"))
        self.pki = make_test_pki(self._cert_dir, self.expiring_days)
        ready = threading.Event()
        failure: list[BaseException] = []
        self._inner = _Loop(TargetApp(self.state), self.host, self.pki, self._requested_ports,
                            self.verbose)

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.set_exception_handler(_quiet_exception_handler)
            try:
                loop.run_until_complete(self._inner.start())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._inner.run_until_stopped())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="target-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("target server did not bind its listeners in time")
        if failure:
            self._thread.join()
            self._thread = None
            if self._own_cert_dir:
                shutil.rmtree(self._cert_dir, ignore_errors=True)
            raise failure[0]
        self.ports = dict(self._inner.ports)
        return self

    def stop(self, timeout: float = 10) -> None:
        if self._thread is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._inner.stop_event.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("target server thread did not stop")
        self._thread = None
        if self._own_cert_dir and self._cert_dir is not None:
            shutil.rmtree(self._cert_dir, ignore_errors=True)

    def __enter__(self) -> "TargetServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # addresses ---------------------------------------------------------------------------------

    @property
    def ca_file(self) -> str:
        return self.pki.ca_file

    def port(self, listener: str = "http") -> int:
        return self.ports[listener]

    def url(self, path: str = "/", listener: str = "http", host: str | None = None) -> str:
        """URL of `path` on a listener ("http", "https", "https_expired", ...)."""
        scheme = "https" if listener.startswith("https") else "http"
        host = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{host}:{self.ports[listener]}{path}"

    def describe(self) -> dict:
        """What the CLI prints: every port, the CA file and the certificates' expiry times."""
        return {"pid": os.getpid(), "host": self.host, **self.ports,
                "ca_file": self.pki.ca_file, "cert_dir": self.pki.directory,
                "expiring_days": self.expiring_days,
                "certs": {listener: vars(self.pki.certs[scenario])
                          for listener, scenario in TLS_LISTENERS.items()}}

    # state -------------------------------------------------------------------------------------

    def count(self, tag: str) -> int:
        """Requests seen so far carrying ?tag=`tag`."""
        return self.state.count(tag)

    def requests(self, tag: str) -> list[dict]:
        """The last requests carrying ?tag=`tag` (as /echo describes them), oldest first."""
        return self.state.requests(tag)

    def set_state(self, name: str, code: int, body: str | None = None) -> None:
        """What /state/`name` answers from now on."""
        self.state.set_state(name, code, body)

    def reset(self) -> None:
        self.state.reset()


class TargetServerProcess:
    """The target server as a child process (the CLI), for callers that want it out of their
    own process. Stopped by PID with SIGTERM (SIGKILL after a grace period)."""

    def __init__(self, extra_args: list[str] | None = None) -> None:
        self.extra_args = extra_args or []
        self.process: subprocess.Popen | None = None
        self.info: dict = {}
        self._dir: str | None = None

    def start(self, timeout: float = 30) -> "TargetServerProcess":
        self._dir = tempfile.mkdtemp(prefix="pharos-target-")
        ready_file = Path(self._dir) / "ready.json"
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--ready-file", str(ready_file),
             "--cert-dir", str(Path(self._dir) / "certs"), *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not ready_file.exists():
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace")
                raise RuntimeError(f"target server exited with {self.process.returncode}: "
                                   f"{stderr}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("target server process did not become ready")
            time.sleep(0.02)
        self.info = json.loads(ready_file.read_text())
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "TargetServerProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# CLI


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK_HOSTS)
    parser.add_argument("--http-port", type=int, default=0, help="0 = chosen by the OS")
    parser.add_argument("--https-port", type=int, default=0,
                        help="port of the valid-certificate TLS listener; 0 = chosen by the OS "
                             "(the other listeners always get OS-chosen ports)")
    parser.add_argument("--cert-dir", help="where to write the test CA and certificates "
                                           "(default: a temporary directory removed on exit)")
    parser.add_argument("--expiring-days", type=int, default=3,
                        help="lifetime of the https_expiring certificate in days")
    parser.add_argument("--ready-file", help="write the JSON description here once listening")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    server = TargetServer(args.host, {"http": args.http_port, "https": args.https_port},
                          args.cert_dir, args.expiring_days, args.verbose)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        server.start()
    except OSError as exc:
        reason = "port already in use" if exc.errno == errno.EADDRINUSE else str(exc)
        print(f"target_server: cannot listen: {reason}", file=sys.stderr)
        return 1
    description = json.dumps(server.describe(), sort_keys=True)
    print(description, flush=True)
    if args.ready_file:
        _write_atomically(Path(args.ready_file), description + "\n")
    try:
        while not stopping.wait(3600):
            pass
    finally:
        server.stop()
        if args.ready_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
