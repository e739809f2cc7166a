"""RecordingSite: a small HTTP server on a loopback address that serves HTML pages chosen by the
test and records the path of every request it gets, for tests that must show a browser did (or
never did) ask it for something (tests/integration/test_screenshots_policy.py,
tests/e2e/test_screenshots_operator.py). Stopped with close()."""

from __future__ import annotations

import http.server
import threading


class RecordingSite:
    """`pages`: path -> function(handler) -> (code, headers, body); other paths answer 200
    "secret". Every request's path is appended to `log`."""

    def __init__(self, host: str, pages=None) -> None:
        self.log: list[str] = []
        lock = threading.Lock()
        site = self
        pages = pages or {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                with lock:
                    site.log.append(self.path)
                page = pages.get(self.path.split("?")[0])
                code, headers, body = page(self) if page else (200, {}, b"secret\n")
                self.send_response(code)
                for name, value in {"Content-Type": "text/html; charset=utf-8",
                                    "Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def requests(self) -> list[str]:
        return list(self.log)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
