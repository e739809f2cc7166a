"""Helpers shared by the Python integration and e2e suites: where the binaries are, running a
command with a deadline, writing Monitor YAML, free ports, and polling for a condition."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import yaml

REPO_ROOT = Path(os.environ.get("PHAROS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
API_VERSION = "pharos.dev/v1alpha1"

T = TypeVar("T")


def bin_dir() -> Path:
    """$PHAROS_BIN_DIR (set by ctest), else build/bin in the repository."""
    return Path(os.environ.get("PHAROS_BIN_DIR") or REPO_ROOT / "build" / "bin")


def binary(name: str) -> Path:
    """Path of a built executable; a clear error when it has not been built."""
    path = bin_dir() / name
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(
            f"{path} does not exist or is not executable: build it (scripts/build, or "
            f"cmake --build <dir> --target {name}) or point PHAROS_BIN_DIR at its directory")
    return path


def required_binary(name: str) -> Path:
    """binary(), failing the calling pytest test (without a traceback) when it is not built."""
    try:
        return binary(name)
    except FileNotFoundError as exc:
        import pytest  # only tests call this

        pytest.fail(str(exc), pytrace=False)


@dataclass
class Completed:
    """What a finished command did."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"stdout of {self.args} is not JSON ({exc}):\n{self.describe()}")

    def describe(self) -> str:
        return (f"$ {' '.join(map(str, self.args))}\nexit {self.returncode}\n"
                f"--- stdout ---\n{self.stdout[-20000:]}\n--- stderr ---\n{self.stderr[-20000:]}")


def run(args: Iterable, timeout: float = 120, env: dict[str, str] | None = None,
        input_text: str | None = None, cwd: str | os.PathLike | None = None) -> Completed:
    """Runs a command to completion. A command still running at `timeout` is killed (its whole
    process group) and reported as a test failure with whatever it printed."""
    argv = [str(arg) for arg in args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    process = subprocess.Popen(argv, stdin=subprocess.PIPE if input_text is not None else
                               subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=full_env, cwd=cwd, text=True, errors="replace",
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{argv} did not finish within {timeout} s\n"
                             + Completed(argv, -9, stdout, stderr).describe())
    return Completed(argv, process.returncode, stdout, stderr)


def monitor(name: str, type: str = "http", namespace: str | None = None, **spec) -> dict:
    """A Monitor manifest. Keyword arguments become spec fields:
    monitor("api", http={"url": u}, timeout="2s", assertions=[...])."""
    metadata = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": API_VERSION, "kind": "Monitor", "metadata": metadata,
            "spec": {"type": type, **spec}}


def write_monitors(directory: str | os.PathLike, monitors: dict | list[dict] | str,
                   filename: str = "monitors.yaml") -> Path:
    """Writes manifests (one dict, a list as a multi-document file, or raw YAML text) and
    returns the file's path."""
    path = Path(directory) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(monitors, str):
        path.write_text(monitors)
    else:
        documents = [monitors] if isinstance(monitors, dict) else monitors
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def free_port(kind: str = "tcp", host: str = "127.0.0.1") -> int:
    """A port the OS reports free right now (another process may still take it: prefer letting
    servers bind port 0 and report what they got)."""
    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, sock_type) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], T], timeout: float = 10, interval: float = 0.05,
             message: str = "condition") -> T:
    """Polls `predicate` until it returns something truthy and returns that value; raises
    TimeoutError naming `message` at the deadline. Exceptions from the predicate count as
    "not yet" and the last one is reported."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 — "not ready yet", reported on timeout
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout} s waiting for {message}{detail}")
        time.sleep(interval)
