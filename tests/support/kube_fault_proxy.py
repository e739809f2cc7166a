"""A fault-injecting reverse proxy in front of a real kube-apiserver (tests only, loopback).

    from kube_fault_proxy import KubeFaultProxy
    with KubeFaultProxy(cp.url, cp.ca_file) as proxy:      # listens on http://127.0.0.1:P
        proxy.kubeconfig(path, token)                       # a kubeconfig whose server is the proxy
        proxy.set_rule("500")                               # every request answered 500
        proxy.set_rule("429", retry_after=4)                # 429 with Retry-After: 4
        proxy.set_rule("blackhole", paths=r"/leases/")      # only Lease requests hang unanswered
        proxy.set_rule("pass")                              # forward everything again
        proxy.close_watches_every(3)                        # cut every watch stream after 3 s
        proxy.requests(since=t0)                            # what arrived (time, method, path, code)

The client side is plain HTTP on 127.0.0.1 (the bearer token never leaves the machine); upstream
each request goes over TLS to the API server, verified against its CA. A request matching the
rule's `paths` (a regex searched in the path) gets the fault; the others are forwarded. Watch
responses are streamed through chunk by chunk; a watch cut by close_watches_every() ends without
the terminating chunk (the connection is shut down), which a client sees as a broken stream.
Threads: one per connection (ThreadingHTTPServer), all daemon threads named "kube-fault-proxy".
"""

from __future__ import annotations

import http.client
import http.server
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length"}


@dataclass
class Rule:
    mode: str = "pass"            # pass | 500 | 429 | blackhole
    retry_after: int = 0          # 429: the Retry-After header (seconds); 0 = none
    paths: str = ""               # regex searched in the path; "" = every request


@dataclass
class Seen:
    at: float                     # time.monotonic() when the request arrived
    method: str
    path: str                     # without the query
    query: str
    code: int                     # what the client got (0 = no answer: blackholed or cut)
    watch: bool
    user_agent: str


class KubeFaultProxy:
    def __init__(self, upstream: str, ca_file: str | Path) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 443
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self._lock = threading.Lock()
        self._rule = Rule()
        self._watch_close_after: float = 0
        self._seen: list[Seen] = []
        self._watches: dict[int, tuple[float, object]] = {}  # id -> (started, cut function)
        self._stopping = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control
    def set_rule(self, mode: str, retry_after: int = 0, paths: str = "") -> None:
        assert mode in ("pass", "500", "429", "blackhole"), mode
        with self._lock:
            self._rule = Rule(mode, retry_after, paths)

    def close_watches_every(self, seconds: float) -> None:
        """Cut each watch stream this long after it started (0 = never)."""
        with self._lock:
            self._watch_close_after = seconds

    def requests(self, since: float = 0.0) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if s.at >= since]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def kubeconfig(self, path: Path, token: str) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "user", "user": {"token": token}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "user"}}],
            "current-context": "proxy"}))
        return path

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "KubeFaultProxy":
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def process_request(self, request, client_address):
                thread = threading.Thread(target=self.process_request_thread,
                                          args=(request, client_address),
                                          name="kube-fault-proxy", daemon=True)
                thread.start()

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="kube-fault-proxy", daemon=True)
        self._thread.start()
        threading.Thread(target=self._cut_old_watches, name="kube-fault-proxy",
                         daemon=True).start()
        return self

    def _cut_old_watches(self) -> None:
        """Cuts every watch (established before the setting too) older than the setting."""
        while not self._stopping.wait(0.1):
            with self._lock:
                close_after = self._watch_close_after
                due = [cut for started, cut in self._watches.values()
                       if close_after > 0 and time.monotonic() - started >= close_after]
            for cut in due:
                cut()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "KubeFaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ proxying
    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        split = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(split.query)
        watch = query.get("watch", [""])[0] in ("1", "true")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            rule = self._rule
        seen = Seen(arrived, handler.command, split.path, split.query, 0, watch,
                    handler.headers.get("User-Agent", ""))
        faulty = rule.mode != "pass" and (not rule.paths or re.search(rule.paths, split.path))
        if faulty and rule.mode == "blackhole":
            self._record(seen)
            # Hold the connection, never answer, until the client gives up or the test ends.
            handler.close_connection = True
            handler.connection.settimeout(1.0)
            while not self._stopping.is_set():
                try:
                    if not handler.connection.recv(4096):
                        return
                except socket.timeout:
                    continue
                except OSError:
                    return
            return
        if faulty:
            code = int(rule.mode)
            reason = "TooManyRequests" if code == 429 else "InternalError"
            text = (f'{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure",'
                    f'"message":"injected by the test proxy","reason":"{reason}","code":{code}}}'
                    ).encode()
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(text)))
            if code == 429 and rule.retry_after:
                handler.send_header("Retry-After", str(rule.retry_after))
            handler.end_headers()
            handler.wfile.write(text)
            seen.code = code
            self._record(seen)
            return
        self._forward(handler, body, seen)

    def _forward(self, handler, body: bytes, seen: Seen) -> None:
        upstream = http.client.HTTPSConnection(self.upstream_host, self.upstream_port,
                                               context=self.context, timeout=700)
        key = id(handler)
        try:
            headers = {k: v for k, v in handler.headers.items()
                       if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
            headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
            try:
                upstream.request(handler.command, handler.path, body=body or None,
                                 headers=headers)
                response = upstream.getresponse()
            except OSError:
                # The API server is down: what a client sees when it cannot connect.
                seen.code = 0
                self._record(seen)
                handler.close_connection = True
                return
            seen.code = response.status
            self._record(seen)
            handler.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    handler.send_header(name, value)
            chunked = response.getheader("Transfer-Encoding", "").lower() == "chunked" or \
                response.getheader("Content-Length") is None
            if not chunked:
                data = response.read()
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)
                return
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            handler.wfile.flush()
            cut = threading.Event()

            def cut_stream() -> None:
                cut.set()
                for sock in (upstream.sock, handler.connection):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except (OSError, AttributeError):
                        pass
            if seen.watch:
                with self._lock:
                    self._watches[key] = (time.monotonic(), cut_stream)
            while True:
                try:
                    data = response.read1(65536)
                except (OSError, http.client.HTTPException):
                    data = b""
                    cut.set()
                if not data or cut.is_set():
                    break
                try:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    handler.wfile.flush()
                except OSError:
                    cut.set()
                    break
            if cut.is_set():
                handler.close_connection = True  # no terminating chunk: a broken stream
                try:
                    handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            handler.wfile.write(b"0\r\n\r\n")
        finally:
            with self._lock:
                self._watches.pop(key, None)
            upstream.close()
