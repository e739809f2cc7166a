"""A `pharos run` process for the integration and e2e suites: started with its output in files,
its address read from the banner it prints (the one place that knows the banner's format), JSON
helpers, a probe-API client for injecting results (history), stopped or killed by PID."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pharos
import requests

# `pharos run` prints "  monitors:   http://127.0.0.1:PORT/api/v1/monitors" once it listens.
BANNER_API = re.compile(r"monitors:\s+(http://[^/\s]+)/api/v1/monitors")


class PharosRun:
    """`pharos run --listen 127.0.0.1:0 --db <workdir>/pharos.db --log-format json <extra> <paths>`.

    Raises (after killing the process) when it exits or prints no address within 30 s, so a
    failed start never leaves a process behind."""

    def __init__(self, workdir: Path, paths: list[Path], env: dict[str, str] | None = None,
                 extra_args: tuple[str, ...] = (), executable: Path | None = None,
                 cwd: Path | None = None) -> None:
        self.workdir = workdir
        self.stdout_path = workdir / f"run-{time.monotonic_ns()}.out"
        self.stderr_path = self.stdout_path.with_suffix(".err")
        self.args = [str(executable or pharos.required_binary("pharos")), "run", "--listen",
                     "127.0.0.1:0", "--db", str(workdir / "pharos.db"), "--log-format", "json",
                     *extra_args, *map(str, paths)]
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=err,
                                            env=dict(os.environ, **(env or {})), cwd=cwd,
                                            start_new_session=True)
        try:
            self.base = pharos.wait_for(self._printed_base, timeout=30, interval=0.05,
                                        message="pharos run to print its API address")
        except BaseException:
            self.kill()
            raise
        self.port = int(self.base.rsplit(":", 1)[1])

    def _printed_base(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"pharos run exited with {self.process.returncode}\n"
                                 + self.output())
        match = BANNER_API.search(self.stdout_path.read_text())
        return match.group(1) if match else None

    def output(self) -> str:
        return (f"$ {' '.join(self.args)}\n--- stdout ---\n{self.stdout_path.read_text()}"
                f"\n--- stderr ---\n{self.stderr_path.read_text()[-20000:]}")

    def logs(self) -> list[dict]:
        """The structured log lines written so far (lines that are not JSON are skipped)."""
        lines = []
        for line in self.stderr_path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return lines

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.base + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def request(self, path: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=20) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str):
        status, _, body = self.request(path)
        assert status == 200, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)

    def monitors(self) -> dict[str, dict]:
        return {m["name"]: m for m in self.json("/api/v1/monitors")["monitors"]}

    def wait_states(self, expected: dict[str, str], timeout: float = 60,
                    exact: bool = False) -> dict[str, dict]:
        """Waits until every named monitor is in its expected state (and, with `exact`, until
        no other monitor exists)."""
        def reached():
            monitors = self.monitors()
            if exact and set(monitors) != set(expected):
                return None
            if all(monitors.get(name, {}).get("state") == state
                   for name, state in expected.items()):
                return monitors
            return None
        try:
            return pharos.wait_for(reached, timeout=timeout, interval=0.2,
                                   message=f"monitor states {expected}")
        except TimeoutError as error:
            states = {name: m["state"] for name, m in self.monitors().items()}
            raise AssertionError(f"{error}\nlast: {states}\n{self.output()}") from None

    def post_results(self, token: str, region: str, results: list[dict]) -> dict:
        """Delivers results as a probe of `region` would (POST /api/v1/work/results)."""
        body = json.dumps({"name": "history-loader", "region": region,
                           "results": results}).encode()
        status, _, reply = self.request("/api/v1/work/results", "POST", body,
                                        {"Authorization": f"Bearer {token}",
                                         "Content-Type": "application/json"})
        assert status == 200, f"posting results: {status} {reply[:500]!r}"
        return json.loads(reply)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Sends `sig` (SIGTERM by default) and waits; kills the process group and fails when it
        does not exit in time. Returns the exit status."""
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"pharos run did not stop after signal {sig}\n"
                                 + self.output()) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
