#!/usr/bin/env python3
"""Opens many idle, half-open HTTP connections to a server and holds them (a slowloris client).

Each connection sends the start of a request (the request line and one header, never the blank
line that ends the headers) and then nothing. The client never closes a connection itself; it
notices when the server closes one (end of stream or reset) and counts it. Loopback only.

    python3 tests/support/half_open_clients.py --port P --count 10000 --status-file F

Every 0.2 s the status is written to F (atomically) as JSON:
    {"pid": 123, "target": 10000, "opened": 9990, "failed": 10, "closed_by_server": 42,
     "held": 9948, "done_opening": true, "first_open": 12.3, "last_open": 14.1}
Times are time.monotonic() values (comparable across processes of one machine); `failed` counts
connects that did not succeed (refused, reset, timed out). SIGTERM/SIGINT close everything and
exit 0.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

PARTIAL_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never-Finished: "
CONNECT_TIMEOUT_S = 10.0


def raise_open_files_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        sys.exit(f"half_open_clients: RLIMIT_NOFILE is {soft}, {needed} descriptors are needed "
                 f"(raise the hard limit: ulimit -Hn)")


class Clients:
    def __init__(self, host: str, port: int, count: int, batch: int, pause: float,
                 status_file: str) -> None:
        self.address = (host, port)
        self.count = count
        self.batch = batch
        self.pause = pause
        self.status_file = status_file
        self.selector = selectors.DefaultSelector()
        self.connecting: dict[int, tuple[socket.socket, float]] = {}
        self.held: dict[int, socket.socket] = {}
        self.opened = 0
        self.failed = 0
        self.closed_by_server = 0
        self.started = 0
        self.first_open: float | None = None
        self.last_open: float | None = None
        self.stopping = False

    def start_batch(self) -> None:
        for _ in range(min(self.batch, self.count - self.started)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            self.started += 1
            code = sock.connect_ex(self.address)
            if code not in (0, errno.EINPROGRESS):
                self.failed += 1
                sock.close()
                continue
            self.connecting[sock.fileno()] = (sock, time.monotonic())
            self.selector.register(sock, selectors.EVENT_WRITE)

    def on_connected(self, sock: socket.socket) -> None:
        self.connecting.pop(sock.fileno(), None)
        self.selector.unregister(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            try:
                sock.send(PARTIAL_REQUEST)
            except OSError:
                code = -1
        if code != 0:
            self.failed += 1
            sock.close()
            return
        now = time.monotonic()
        self.first_open = self.first_open or now
        self.last_open = now
        self.opened += 1
        self.held[sock.fileno()] = sock
        self.selector.register(sock, selectors.EVENT_READ)

    def on_readable(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return  # an answer without closing (not expected for a partial request): keep it
        self.selector.unregister(sock)
        self.held.pop(sock.fileno(), None)
        sock.close()
        self.closed_by_server += 1

    def expire_connects(self) -> None:
        now = time.monotonic()
        for fd, (sock, since) in list(self.connecting.items()):
            if now - since > CONNECT_TIMEOUT_S:
                self.connecting.pop(fd)
                self.selector.unregister(sock)
                sock.close()
                self.failed += 1

    def write_status(self) -> None:
        status = {"pid": os.getpid(), "target": self.count, "opened": self.opened,
                  "failed": self.failed, "closed_by_server": self.closed_by_server,
                  "held": len(self.held),
                  "done_opening": self.started >= self.count and not self.connecting,
                  "first_open": self.first_open, "last_open": self.last_open}
        temporary = self.status_file + ".tmp"
        with open(temporary, "w") as out:
            json.dump(status, out)
        os.replace(temporary, self.status_file)

    def run(self) -> None:
        next_batch = 0.0
        next_status = 0.0
        while not self.stopping:
            now = time.monotonic()
            if self.started < self.count and now >= next_batch:
                self.start_batch()
                next_batch = now + self.pause
            for key, events in self.selector.select(timeout=0.05):
                if key.fileobj.fileno() in self.connecting and events & selectors.EVENT_WRITE:
                    self.on_connected(key.fileobj)
                elif events & selectors.EVENT_READ:
                    self.on_readable(key.fileobj)
            self.expire_connects()
            if time.monotonic() >= next_status:
                self.write_status()
                next_status = time.monotonic() + 0.2
        self.write_status()
        for sock in list(self.held.values()) + [sock for sock, _ in self.connecting.values()]:
            with contextlib.suppress(OSError):
                sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--batch", type=int, default=250, help="connections started per step")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between steps")
    parser.add_argument("--status-file", required=True)
    args = parser.parse_args()
    if not args.host.startswith("127."):
        sys.exit("half_open_clients: loopback addresses only")
    raise_open_files_limit(args.count + 64)
    clients = Clients(args.host, args.port, args.count, args.batch, args.pause, args.status_file)

    def stop(*_):
        clients.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    clients.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
