"""A real ClickHouse server (Debian package clickhouse-server, 18.16 on bookworm) for the
analytics tests: its own config, users and data folder in a temporary directory, HTTP and native
ports chosen free on 127.0.0.1, stopped by PID (SIGTERM, then SIGKILL after a grace period).
Stopping and starting again keeps the data folder and the ports, as a restarted server would.

    with ClickHouse(tmp_path) as ch:
        ch.query("SELECT 1")                     # text of the answer; AssertionError on an error
        ch.url, ch.user, ch.password             # what pharos gets in --clickhouse-*
        ch.stop(); ch.start()

`server_binary()` fails with "run scripts/setup" when the package is missing (never a skip).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pharos

USER = "pharos"
PASSWORD = "correct-horse-battery"

CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>{dir}/log/server.log</log>
    <errorlog>{dir}/log/error.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </default>
    <{user}>
      <password>{password}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </{user}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
"""


class ClickHouseMissing(RuntimeError):
    """clickhouse-server is not installed."""


def server_binary() -> str:
    path = shutil.which("clickhouse-server") or (
        "/usr/sbin/clickhouse-server" if os.access("/usr/sbin/clickhouse-server", os.X_OK) else None)
    if not path:
        raise ClickHouseMissing("clickhouse-server not found: install the Debian package "
                                "'clickhouse-server' (run scripts/setup, which installs every test "
                                "dependency)")
    return path


class ClickHouse:
    def __init__(self, workdir: Path) -> None:
        self.dir = Path(workdir) / "clickhouse"
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.http_port = pharos.free_port()
        self.tcp_port = pharos.free_port()
        (self.dir / "config.xml").write_text(CONFIG.format(
            dir=self.dir, http_port=self.http_port, tcp_port=self.tcp_port))
        (self.dir / "users.xml").write_text(USERS.format(user=USER, password=PASSWORD))
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.user = USER
        self.password = PASSWORD
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "ClickHouse":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        out = open(self.dir / "log" / "stdout.log", "a")
        self.process = subprocess.Popen(
            [server_binary(), f"--config-file={self.dir / 'config.xml'}"], stdout=out,
            stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
        out.close()

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"clickhouse-server exited with {self.process.returncode}:\n"
                                     + self.log_tail())
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as response:
                    return response.read().strip() == b"Ok."
            except OSError:
                return False
        pharos.wait_for(ready, timeout=timeout, interval=0.1, message="clickhouse-server to answer")

    def stop(self, grace: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, size: int = 4000) -> str:
        text = ""
        for name in ("stdout.log", "error.log"):
            path = self.dir / "log" / name
            if path.exists():
                text += f"--- {name} ---\n{path.read_text(errors='replace')[-size:]}\n"
        return text

    def request(self, sql: str, user: str | None = None, password: str | None = None
                ) -> tuple[int, str]:
        """(HTTP status, body) of one statement."""
        token = base64.b64encode(f"{user or self.user}:{password if password is not None else self.password}"
                                 .encode()).decode()
        req = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST",
                                     headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def query(self, sql: str) -> str:
        status, body = self.request(sql)
        assert status == 200, f"ClickHouse answered {status} to {sql!r}: {body[:1000]}"
        return body

    def rows(self, sql: str) -> list[list[str]]:
        """Rows of a SELECT as lists of strings (TabSeparated)."""
        text = self.query(sql + " FORMAT TabSeparated")
        return [line.split("\t") for line in text.splitlines() if line]
