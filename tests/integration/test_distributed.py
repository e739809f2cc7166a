"""Pharos distributed over loopback: `pharos run` as the control plane and real `pharos-probe`
processes in three regions (eu-west with two probes, us-east and ap-south with one each, plus the
in-process probe of region `local`) against the local target server.

The tests share one cluster and run in file order, each building on the time already spent:
  a. every monitor is checked from each of its regions; the JSON API shows per-region state;
  e. region quorum: one failing region of three leaves the monitor Up (that region Down), two
     failing regions make it Down with an incident naming them;
  b. kill -9 of an eu-west probe holding leased items: the items are redelivered to the other
     eu-west probe after their visibility timeout and every (monitor, region, scheduledAt) is
     stored exactly once; pharos_check_results_total agrees with the stored rows;
  d. a monitor flapping under its failureThreshold never goes Down and opens no incident;
  c. kill -9 of `pharos run` and a restart on the same database: every result acknowledged before
     the kill is kept, states and open incidents are the same, and the probes reconnect and
     deliver the results they buffered meanwhile, without duplicates.

Region failures are real: the ap-south probe (and the in-process probe) do not trust the test CA,
so https checks fail there with a TLS verification error while eu-west and us-east pass.

Contract: docs/standalone.md, docs/probe.md, docs/probe-protocol.md, docs/api.md, docs/monitoring.md.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests

import pharos

TOKENS = {"eu-west": "eu-token-0f3a", "us-east": "us-token-77c1", "ap-south": "ap-token-5be2"}
SLOW_MONITORS = [f"slow-{i}" for i in range(1, 5)]
SLOW_CHECK_MS = 3000
SLOW_TIMEOUT_S = 6
LEASE_GRACE_S = 10  # WorkDispatcher::Options::lease_grace
# A redelivered item starts at least its visibility timeout (timeout + grace) after it was due;
# normal checks start within a second or two. 12 s separates them for every monitor here.
REDELIVERED_LATENESS_MS = 12_000

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            labels = dict(LABEL.findall(match.group(2) or ""))
            samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def metric_sum(text: str, name: str, **labels: str) -> float:
    return sum(value for sample, sample_labels, value in parse_metrics(text)
               if sample == name and all(sample_labels.get(k) == v for k, v in labels.items()))


def ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


class ChildProcess:
    """A child started in a session of its own: killed (SIGKILL) or stopped (SIGTERM, then
    SIGKILL to its group after 40 s) by PID."""

    process: subprocess.Popen | None = None

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class ControlPlane(ChildProcess):
    """`pharos run --probe-token-file` on a fixed port (so probes find it again after a restart);
    output in files, stopped by PID."""

    def __init__(self, workdir: Path, port: int, monitors_file: Path, tokens_file: Path) -> None:
        self.workdir = workdir
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.args = [str(pharos.binary("pharos")), "run", "--listen", f"127.0.0.1:{port}",
                     "--db", str(self.db_path), "--probe-token-file", str(tokens_file),
                     "--log-format", "json", str(monitors_file)]
        # The in-process probe (region `local`) must not trust the test CA: see the module doc.
        self.env = {k: v for k, v in os.environ.items() if k != "PHAROS_CA_FILE"}
        self.process: subprocess.Popen | None = None
        self.log_paths: list[Path] = []

    @property
    def db_path(self) -> Path:
        return self.workdir / "pharos.db"

    def start(self) -> None:
        stem = self.workdir / f"run-{len(self.log_paths)}"
        self.log_paths.append(stem)
        with open(f"{stem}.out", "w") as out, open(f"{stem}.err", "w") as err:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=err, env=self.env,
                                            start_new_session=True)
        pharos.wait_for(self._ready, timeout=30, interval=0.05, message="pharos run to be ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"pharos run exited with {self.process.returncode}\n"
                                 + self.output())
        try:
            return requests.get(self.base + "/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def output(self) -> str:
        parts = [f"$ {' '.join(self.args)}"]
        for stem in self.log_paths:
            parts.append(f"--- {stem.name} stdout ---\n{Path(f'{stem}.out').read_text()[-5000:]}")
            parts.append(f"--- {stem.name} stderr ---\n{Path(f'{stem}.err').read_text()[-15000:]}")
        return "\n".join(parts)

    def get(self, path: str, **params) -> dict:
        response = requests.get(self.base + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def metrics(self) -> str:
        response = requests.get(self.base + "/metrics", timeout=10)
        response.raise_for_status()
        return response.text

    def monitors(self) -> dict[str, dict]:
        return {monitor["name"]: monitor for monitor in self.get("/api/v1/monitors")["monitors"]}

    def results(self, name: str) -> list[dict]:
        return self.get(f"/api/v1/monitors/default/{name}/results", limit=1000)["results"]

    def open_incidents(self) -> dict[str, dict]:
        incidents = self.get("/api/v1/incidents", open="true")["incidents"]
        return {incident["name"]: incident for incident in incidents}



class ProbeProcess(ChildProcess):
    """One `pharos-probe` with its /metrics on a port of its own; stopped by PID."""

    def __init__(self, workdir: Path, name: str, region: str, operator: str,
                 target_ca_file: str) -> None:
        self.name = name
        self.region = region
        token_file = workdir / f"{name}.token"
        token_file.write_text(TOKENS[region] + "\n")
        self.port = pharos.free_port()
        self.log_path = workdir / f"{name}.log"
        self.args = [str(pharos.binary("pharos-probe")), "--operator", operator, "--region",
                     region, "--token-file", str(token_file), "--name", name, "--listen",
                     f"127.0.0.1:{self.port}", "--target-ca-file", target_ca_file,
                     "--log-format", "json"]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def metrics(self) -> str:
        if self.process.poll() is not None:
            raise AssertionError(f"probe {self.name} exited with {self.process.returncode}\n"
                                 + self.log_path.read_text()[-10000:])
        return requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def metric(self, name: str, **labels: str) -> float:
        return metric_sum(self.metrics(), name, **labels)



@dataclass
class Cluster:
    plane: ControlPlane
    probes: dict[str, ProbeProcess]
    flap_name: str

    def db_rows(self, where: str = "1", params: tuple = ()) -> list[sqlite3.Row]:
        """Stored results, read from the SQLite file read-only (WAL: concurrent with the writer)."""
        uri = f"file:{self.plane.db_path}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=10) as db:
            db.row_factory = sqlite3.Row
            return db.execute(
                "SELECT item_id, monitor_name, region, probe, scheduled_at_ms, started_at_ms, "
                f"outcome, error FROM results WHERE {where} ORDER BY scheduled_at_ms",
                params).fetchall()

    def duplicate_rounds(self) -> list[tuple]:
        rounds = Counter((row["monitor_name"], row["region"], row["scheduled_at_ms"])
                         for row in self.db_rows())
        return [key for key, count in rounds.items() if count > 1]

    def describe(self) -> str:
        parts = [self.plane.output()]
        for probe in self.probes.values():
            parts.append(f"--- probe {probe.name} ---\n{probe.log_path.read_text()[-4000:]}")
        return "\n".join(parts)


def http_monitor(name: str, url: str, regions: list[str], frequency: str = "10s",
                 timeout: str = "3s", **alerting) -> dict:
    return pharos.monitor(name, "http", frequency=frequency, timeout=timeout, retries=0,
                          regions=regions, http={"url": url},
                          alerting={"failureThreshold": 1, "successThreshold": 1, **alerting})


@pytest.fixture(scope="module")
def cluster(target, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("distributed")
    flap_name = f"flap-{time.monotonic_ns()}"
    monitors = [
        http_monitor("multi", target.url("/status/200?tag=multi"), ["eu-west", "us-east"]),
        http_monitor("down", target.url("/status/503"), ["us-east"]),
        http_monitor("flap", target.url(f"/flap?period=1&name={flap_name}"), ["local"],
                     failureThreshold=3),
        http_monitor("quorum-one", target.url("/status/200", listener="https"),
                     ["eu-west", "us-east", "ap-south"], regionQuorum="majority"),
        http_monitor("quorum-two", target.url("/status/200", listener="https"),
                     ["eu-west", "ap-south", "local"], regionQuorum="majority"),
    ]
    # Slow checks (3 s) every 30 s: a probe holds them long enough to be killed mid-batch, and a
    # redelivery (after 6 s + 10 s grace) comes before the next round is due.
    for name in SLOW_MONITORS:
        monitors.append(http_monitor(
            name, target.url(f"/slow/first-byte?ms={SLOW_CHECK_MS}&tag={name}"), ["eu-west"],
            frequency="30s", timeout=f"{SLOW_TIMEOUT_S}s"))
    monitors_file = pharos.write_monitors(workdir, monitors)
    tokens_file = workdir / "tokens"
    tokens_file.write_text("".join(f"{region}={token}\n" for region, token in TOKENS.items()))

    plane = ControlPlane(workdir, pharos.free_port(), monitors_file, tokens_file)
    probes: dict[str, ProbeProcess] = {}
    try:
        plane.start()
        untrusted_ca = target.describe()["certs"]["https_self_signed"]["cert_file"]
        for name, region, ca_file in [("eu-1", "eu-west", target.ca_file),
                                      ("eu-2", "eu-west", target.ca_file),
                                      ("us-1", "us-east", target.ca_file),
                                      ("ap-1", "ap-south", untrusted_ca)]:
            probes[name] = ProbeProcess(workdir, name, region, plane.base, ca_file)
        built = Cluster(plane, probes, flap_name)
        yield built
    finally:
        for probe in probes.values():
            probe.stop()
        plane.stop()


def wait(cluster: Cluster, predicate, timeout: float, message: str, interval: float = 0.2):
    try:
        return pharos.wait_for(predicate, timeout=timeout, interval=interval, message=message)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{cluster.describe()}") from None


def wait_slow_check_running(cluster: Cluster, probe: ProbeProcess) -> float:
    """Waits until `probe` is idle, then until it has been running checks for 0.3 s without a
    pause: quick checks take milliseconds, so one of them is a slow check (3 s) that just
    started. Returns the number of checks in flight."""
    name = "pharos_probe_checks_in_flight"
    wait(cluster, lambda: probe.metric(name) == 0, 40, f"{probe.name} to be idle", interval=0.02)
    busy_since: list[float] = []

    def busy_for_a_while():
        value = probe.metric(name)
        if not value:
            busy_since.clear()
            return None
        if not busy_since:
            busy_since.append(time.monotonic())
        return value if time.monotonic() - busy_since[0] >= 0.3 else None
    return wait(cluster, busy_for_a_while, 40, f"{probe.name} to run a slow check",
                interval=0.02)


def test_a_every_region_checks_its_monitors(cluster):
    plane = cluster.plane

    def all_regions_up():
        monitors = plane.monitors()
        multi = monitors["multi"]
        if multi["state"] != "Up":
            return None
        regions = {region["name"]: region["state"] for region in multi["regions"]}
        return monitors if regions == {"eu-west": "Up", "us-east": "Up"} else None
    monitors = wait(cluster, all_regions_up, 45, "multi Up in eu-west and us-east")

    multi = monitors["multi"]
    for region in multi["regions"]:
        assert region["statusCode"] == 200 and region["lastCheckTime"], multi
    down = wait(cluster, lambda: plane.monitors()["down"]["state"] == "Down" and
                plane.monitors()["down"], 30, "down to be Down")
    assert [region["name"] for region in down["regions"]] == ["us-east"]
    assert down["regions"][0]["state"] == "Down" and down["regions"][0]["statusCode"] == 503
    assert down["incident"] and down["incident"]["id"]

    # Both regions' results are stored, each from a probe of that region only.
    results = plane.results("multi")
    by_region = Counter(result["region"] for result in results)
    assert by_region["eu-west"] >= 1 and by_region["us-east"] >= 1, results
    assert set(by_region) == {"eu-west", "us-east"}, by_region
    for result in results:
        expected = {"eu-west": {"eu-1", "eu-2"}, "us-east": {"us-1"}}[result["region"]]
        assert result["probe"] in expected, result
        assert result["itemId"].endswith(f"@{result['region']}@{ms(result['scheduledAt'])}")

    metrics = plane.metrics()
    for region in ("eu-west", "us-east", "ap-south", "local"):
        assert metric_sum(metrics, "pharos_probes_connected", region=region) >= 1, region
    assert metric_sum(metrics, "pharos_probes_connected", region="eu-west") == 2


def test_e_region_quorum(cluster):
    plane = cluster.plane

    def quorum_settled():
        monitors = plane.monitors()
        one, two = monitors["quorum-one"], monitors["quorum-two"]
        one_regions = {region["name"]: region["state"] for region in one["regions"]}
        two_regions = {region["name"]: region["state"] for region in two["regions"]}
        if (one_regions == {"eu-west": "Up", "us-east": "Up", "ap-south": "Down"} and
                two_regions == {"eu-west": "Up", "ap-south": "Down", "local": "Down"} and
                two["state"] == "Down"):
            return monitors
        return None
    monitors = wait(cluster, quorum_settled, 45, "quorum monitors' region states")

    # One failing region of three (majority = 2): not Down, no incident.
    one = monitors["quorum-one"]
    assert one["state"] == "Up", one
    assert one["incident"] is None
    ap_south = next(region for region in one["regions"] if region["name"] == "ap-south")
    assert "certificate" in ap_south["message"].lower() or "tls" in ap_south["message"].lower(), \
        ap_south
    # Two failing regions of three: Down, with an incident naming exactly them.
    two = monitors["quorum-two"]
    assert two["incident"] and two["incident"]["id"]
    incidents = plane.open_incidents()
    assert "quorum-one" not in incidents
    assert incidents["quorum-two"]["id"] == two["incident"]["id"]
    assert incidents["quorum-two"]["failingRegions"] == ["ap-south", "local"]
    assert incidents["quorum-two"]["firstError"]


def test_b_killed_probe_items_are_redelivered_once(cluster):
    plane, eu1, eu2 = cluster.plane, cluster.probes["eu-1"], cluster.probes["eu-2"]
    redelivered_before = metric_sum(plane.metrics(), "pharos_work_redelivered_total")

    # Kill eu-1 while it is running checks it leased (slow targets keep them in flight 3 s).
    held = wait_slow_check_running(cluster, eu1)
    eu1.kill()
    assert held >= 1

    # After the visibility timeout (timeout + grace) the operator re-queues them for eu-2.
    def redelivered():
        delta = metric_sum(plane.metrics(), "pharos_work_redelivered_total") - redelivered_before
        return delta if delta >= 1 else None
    wait(cluster, redelivered, SLOW_TIMEOUT_S + LEASE_GRACE_S + 15, "a redelivery")

    # eu-2 answers each one and its result is stored: eu-west results that started a visibility
    # timeout after they were due, one per redelivery (items the operator handed to eu-1's
    # dead long-poll after the kill included, which may be redelivered before or after the slow
    # check eu-1 was running) — among them the slow check, checked again by eu-2 (not answered
    # as skipped).
    def redelivered_stored():
        delta = metric_sum(plane.metrics(), "pharos_work_redelivered_total") - redelivered_before
        late = cluster.db_rows("region = 'eu-west' AND started_at_ms - scheduled_at_ms >= ?",
                               (REDELIVERED_LATENESS_MS,))
        slow_checked_again = any(row["monitor_name"] in SLOW_MONITORS and row["outcome"] == "up"
                                 for row in late)
        return late if len(late) == delta and delta >= 1 and slow_checked_again else None
    late = wait(cluster, redelivered_stored, SLOW_TIMEOUT_S + LEASE_GRACE_S + 20,
                "every redelivered item to be stored, the slow check eu-1 held among them")
    for row in late:
        assert row["probe"] == "eu-2", dict(row)

    # Nothing counted twice: one stored result per (monitor, region, scheduledAt) ...
    assert cluster.duplicate_rounds() == []
    # ... and the counter of results agrees with the stored rows, per monitor and region.

    def counts_agree():
        before = Counter((row["monitor_name"], row["region"]) for row in cluster.db_rows())
        metrics = plane.metrics()
        after = Counter((row["monitor_name"], row["region"]) for row in cluster.db_rows())
        if before != after:
            return None
        counted = Counter()
        for name, labels, value in parse_metrics(metrics):
            if name == "pharos_check_results_total" and value:
                counted[(labels["monitor"], labels["region"])] += int(value)
        return (counted, after) if counted == after else None
    wait(cluster, counts_agree, 20, "pharos_check_results_total to match the stored rows",
         interval=0.1)
    assert eu2.metric("pharos_probe_results_dropped_total") == 0


def test_d_flapping_under_the_threshold_never_goes_down(cluster):
    plane = cluster.plane

    # Three failures in a row would make it Down; alternating pass/fail never gets there.
    def enough_rounds():
        results = plane.results("flap")
        return results if sum(r["outcome"] == "down" for r in results) >= 3 else None
    results = wait(cluster, enough_rounds, 70, "three failed rounds of flap")
    outcomes = [result["outcome"] for result in sorted(results, key=lambda r: r["scheduledAt"])]
    assert set(outcomes) == {"up", "down"}, outcomes
    assert "down,down" not in ",".join(outcomes), outcomes  # really alternating
    flap = plane.monitors()["flap"]
    assert flap["state"] == "Up", flap
    assert flap["incident"] is None
    all_incidents = plane.get("/api/v1/incidents", limit=1000)["incidents"]
    assert [incident for incident in all_incidents if incident["name"] == "flap"] == []
    assert metric_sum(plane.metrics(), "pharos_monitor_state", monitor="flap", state="Down") == 0


def test_c_control_plane_killed_and_restarted(cluster):
    plane, eu2 = cluster.plane, cluster.probes["eu-2"]
    names = list(plane.monitors())

    # Kill while eu-2 runs a slow check, so its result has to wait in the probe's buffer.
    wait_slow_check_running(cluster, eu2)
    acked = {result["itemId"] for name in names for result in plane.results(name)}
    before = plane.monitors()
    incidents_before = plane.open_incidents()
    killed_at_ms = int(time.time() * 1000)
    plane.kill()

    pending = wait(cluster, lambda: eu2.metric("pharos_probe_results_pending"), 15,
                   "eu-2 to buffer a result while the operator is down", interval=0.05)
    assert pending >= 1

    plane.start()
    after = plane.monitors()
    # States and open incidents are restored from the store, not reset to Pending.
    for name in ["multi", "down", "quorum-one", "quorum-two", *SLOW_MONITORS]:
        assert after[name]["state"] == before[name]["state"], (name, before[name], after[name])
        assert after[name]["incident"] == before[name]["incident"], name
    assert after["down"]["state"] == "Down" and after["down"]["incident"]
    assert after["flap"]["state"] != "Down"
    restored_incidents = plane.open_incidents()
    assert {name: incident["id"] for name, incident in restored_incidents.items()} == \
        {name: incident["id"] for name, incident in incidents_before.items()}

    # Every result acknowledged before the kill is in the store.
    stored = {row["item_id"] for row in cluster.db_rows()}
    assert acked - stored == set()
    assert acked <= {result["itemId"] for name in names for result in plane.results(name)}

    # The probes reconnect: their buffered results arrive (none dropped), new rounds follow.
    def delivered():
        for probe in cluster.probes.values():
            if probe.process.poll() is None and probe.metric("pharos_probe_results_pending"):
                return False
        return True
    wait(cluster, delivered, 40, "the probes to deliver their buffered results")
    for probe in cluster.probes.values():
        if probe.process.poll() is None:
            assert probe.metric("pharos_probe_results_dropped_total") == 0, probe.name
    assert eu2.metric("pharos_probe_operator_errors_total") >= 1  # it did notice the outage
    late_acked = cluster.db_rows("started_at_ms < ?", (killed_at_ms,))
    assert len({row["item_id"] for row in late_acked} - acked) >= 1  # the buffered results

    restarted_at_ms = int(time.time() * 1000)

    def every_region_checks_again():
        rows = cluster.db_rows("started_at_ms > ?", (restarted_at_ms,))
        return {"eu-west", "us-east", "ap-south", "local"} <= {row["region"] for row in rows}
    wait(cluster, every_region_checks_again, 40, "results from every region after the restart")
    assert cluster.duplicate_rounds() == []
