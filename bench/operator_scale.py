#!/usr/bin/env python3
"""Operator cold start and status-write budget with many Monitors in a real API server.

Starts a real etcd + kube-apiserver (tests/k8s), applies the Monitor CRD, creates N Monitors with
parallel POSTs, then starts pharos-operator (one replica, no probes: scheduling and status writes
only) and measures:

* the time from the operator's start to every Monitor scheduled (`pharos_monitors_scheduled`
  == N on /metrics, polled every 50 ms; also the operator's own "monitors synced" log line);
* status writes per second in steady state (`pharos_status_writes_total{result="ok"}` over a
  window), which must not exceed --status-qps;
* the operator's RSS (VmRSS, VmHWM) after the window.

  python3 bench/operator_scale.py --monitors 10000 --status-qps 10 --window 60 \
      --bin-dir build/bin

Prints one JSON object with the figures. Everything runs on 127.0.0.1 and is stopped by PID.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "k8s"))
from control_plane import ControlPlane  # noqa: E402

NS = "bench"


def monitor(i: int) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": f"m-{i:05d}", "namespace": NS},
            "spec": {"type": "http", "frequency": "1m", "timeout": "5s",
                     "http": {"url": f"http://127.0.0.1:9/health/{i}"}}}


def create_monitors(cp: ControlPlane, count: int, workers: int) -> float:
    url = f"{cp.url}/apis/pharos.dev/v1alpha1/namespaces/{NS}/monitors"
    local = threading.local()

    def post(i: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {cp.admin_token}"
        for attempt in range(5):
            # verify= per request: $REQUESTS_CA_BUNDLE would override a session-level setting.
            reply = session.post(url, json=monitor(i), timeout=60, verify=str(cp.ca_file))
            if reply.status_code in (201, 409):
                return
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"creating m-{i}: HTTP {reply.status_code} {reply.text[:300]}")

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(post, range(count)))
    return time.monotonic() - start


def metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def wait_for_log_field(log_path: Path, message: str, key: str, timeout: float = 10):
    """`key` of the operator's JSON log line `message` (polled: it may lag the metric)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("msg") == message:
                    return entry.get(key)
        time.sleep(0.05)
    return None


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=10000)
    parser.add_argument("--status-qps", type=float, default=10)
    parser.add_argument("--status-interval", default="30s")
    parser.add_argument("--window", type=float, default=60, help="steady-state seconds")
    parser.add_argument("--create-workers", type=int, default=16)
    parser.add_argument("--bin-dir", default=str(REPO / "build" / "bin"))
    args = parser.parse_args()

    operator_bin = Path(args.bin_dir) / "pharos-operator"
    workdir = Path(tempfile.mkdtemp(prefix="pharos-operator-bench-"))
    result: dict = {"monitors": args.monitors, "status_qps": args.status_qps,
                    "status_interval": args.status_interval}
    with ControlPlane(workdir / "cp") as cp:
        cp.kubectl("apply", "-f", str(REPO / "crds" / "monitors.pharos.dev.yaml"))
        cp.kubectl("wait", "--for", "condition=Established", "--timeout=60s",
                   "crd/monitors.pharos.dev")
        cp.kubectl("create", "namespace", NS)
        created_s = create_monitors(cp, args.monitors, args.create_workers)
        result["create_seconds"] = round(created_s, 1)
        result["create_per_second"] = round(args.monitors / created_s, 1)

        log_path = workdir / "operator.log"
        with open(log_path, "wb") as log:
            started = time.monotonic()
            process = subprocess.Popen(
                [str(operator_bin), "--kubeconfig", str(cp.kubeconfig), "--namespace", NS,
                 "--listen", "127.0.0.1:0", "--db", str(workdir / "pharos.db"),
                 "--status-qps", str(args.status_qps), "--status-interval",
                 args.status_interval, "--log-format", "json"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = None
            deadline = time.monotonic() + 600
            scheduled_s = None
            while time.monotonic() < deadline:
                for line in log_path.read_text(errors="replace").splitlines():
                    if not line.startswith("{"):
                        continue
                    entry = json.loads(line)
                    if entry.get("msg") == "pharos-operator started":
                        url = entry["listen"]
                if url:
                    try:
                        if metrics(url).get("pharos_monitors_scheduled") == args.monitors:
                            scheduled_s = time.monotonic() - started
                            break
                    except OSError:
                        pass
                if process.poll() is not None:
                    raise RuntimeError("operator exited:\n" + log_path.read_text()[-3000:])
                time.sleep(0.05)
            if scheduled_s is None:
                raise RuntimeError("not every monitor was scheduled within 600 s")
            synced_ms = wait_for_log_field(log_path, "monitors synced from the API server",
                                           "elapsed_ms")
            result["start_to_all_scheduled_seconds"] = round(scheduled_s, 2)
            result["informer_synced_ms_logged"] = synced_ms
            result["rss_after_sync_kib"] = rss_kib(process.pid)

            first = metrics(url)
            first_at = time.monotonic()
            time.sleep(args.window)  # the measurement window itself, not a synchronisation
            last = metrics(url)
            elapsed = time.monotonic() - first_at
            ok = 'pharos_status_writes_total{result="ok"}'
            writes = last.get(ok, 0) - first.get(ok, 0)
            result["status_writes_per_second"] = round(writes / elapsed, 2)
            result["status_write_conflicts"] = last.get(
                'pharos_status_writes_total{result="conflict"}', 0)
            result["status_write_errors"] = last.get(
                'pharos_status_writes_total{result="error"}', 0)
            result["rss_after_window_kib"] = rss_kib(process.pid)
        finally:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
