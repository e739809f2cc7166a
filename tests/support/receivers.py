"""Loopback receivers for notification tests: one HTTP server that stands in for every chat,
paging and webhook service (each channel posts to its own path), recording every request and
answering as told — a status code for a while, a Retry-After, a slow answer — so delivery,
retries and crashes are tested against a real socket, nothing mocked at the wire.

    with NotificationReceiver() as receiver:
        url = receiver.url("/hook")                    # http://127.0.0.1:P/hook
        receiver.answer("/hook", 500, times=3)         # the next 3 requests get 500
        receiver.answer("/hook", 429, times=1, headers={"Retry-After": "2"})
        receiver.delay = 0.3                           # every answer waits 0.3 s
        receiver.wait_for(lambda r: len(r.requests("/hook")) >= 2)
        receiver.requests("/hook")[0].json()

Answers not planned are 200 with a body each service would send ({"ok": true} for Telegram,
202 {"status": "success"} for PagerDuty's /v2/enqueue, 202 for Opsgenie's /v2/alerts...).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    answered: int = 0

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class _Plan:
    code: int
    times: int | None  # None: until changed
    headers: dict[str, str]
    body: bytes


class NotificationReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received: list[Received] = []
        self._plans: dict[str, list[_Plan]] = {}
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                receiver._handle(self)

            do_PUT = do_POST
            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="receiver",
                                        daemon=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "NotificationReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "NotificationReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # ---------------------------------------------------------------- behaviour

    def answer(self, prefix: str, code: int, times: int | None = None,
               headers: dict[str, str] | None = None, body: str = "") -> None:
        """Requests whose path starts with `prefix` get `code` (the next `times` of them, or
        until answer()/clear() is called again)."""
        with self._lock:
            self._plans.setdefault(prefix, []).append(
                _Plan(code, times, dict(headers or {}), body.encode()))

    def clear(self, prefix: str | None = None) -> None:
        with self._lock:
            if prefix is None:
                self._plans.clear()
            else:
                self._plans.pop(prefix, None)

    # ---------------------------------------------------------------- what arrived

    def requests(self, prefix: str = "") -> list[Received]:
        with self._lock:
            return [r for r in self._received if r.path.startswith(prefix)]

    def wait_for(self, predicate: Callable[["NotificationReceiver"], object], timeout: float = 30,
                 message: str = "notifications") -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                paths = [f"{r.path} {r.answered}" for r in self.requests()]
                raise TimeoutError(f"receiver: no {message} within {timeout} s; got {paths}")
            with self._changed:
                self._changed.wait(min(remaining, 0.2))

    # ---------------------------------------------------------------- internals

    def _plan_for(self, path: str) -> _Plan | None:
        with self._lock:
            for prefix in sorted(self._plans, key=len, reverse=True):
                if not path.startswith(prefix):
                    continue
                plans = self._plans[prefix]
                while plans:
                    plan = plans[0]
                    if plan.times is None:
                        return plan
                    if plan.times > 0:
                        plan.times -= 1
                        if plan.times == 0:
                            plans.pop(0)
                        return plan
                    plans.pop(0)
        return None

    @staticmethod
    def _default(path: str) -> tuple[int, bytes]:
        if "/sendMessage" in path:
            return 200, b'{"ok":true,"result":{"message_id":1}}'
        if path.endswith("/v2/enqueue"):
            return 202, b'{"status":"success","message":"Event processed"}'
        if "/v2/alerts" in path:
            return 202, b'{"result":"Request will be processed","took":0.01,"requestId":"r"}'
        return 200, b"{}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = Received(handler.command, handler.path, dict(handler.headers.items()), body)
        if self.delay:
            time.sleep(self.delay)
        plan = self._plan_for(handler.path)
        code, answer_body = (plan.code, plan.body) if plan else self._default(handler.path)
        headers = plan.headers if plan else {}
        record.answered = code
        # Recorded once the answer is decided: a sender killed while it waits for the answer has
        # still been received (the case where it sends again, with the same deliveryId).
        with self._changed:
            self._received.append(record)
            self._changed.notify_all()
        try:
            handler.send_response(code)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer_body)))
            handler.end_headers()
            handler.wfile.write(answer_body)
        except OSError:
            pass  # the sender went away
