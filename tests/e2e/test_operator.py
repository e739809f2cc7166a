"""pharos-operator end to end on a real kube-apiserver + etcd (tests/k8s).

One control plane for the module (watch cache off, so that a compacted resourceVersion really
answers 410 Gone). The operator runs as the non-admin user
system:serviceaccount:pharos-system:pharos-operator with exactly the RBAC of the chart
(deploy/pharos.yaml, generated from charts/pharos), so every API call it needs is proven to be
granted. Two replicas (op-a, op-b) elect a leader on a Lease; local pharos-probe processes stand
in for each region's DaemonSet pods (one per replica and region); the fault-injecting target
server is what they check.

Covered: status and printer columns, Down/Up transitions with Events, invalid specs, namespace
scoping, frequency changes re-phasing the schedule, deletion stopping checks, probe DaemonSets
following the regions config, one leader and no writes from the follower, an API server restart
with a 410 re-list, and leader fail-over after kill -9 (the new leader resumes a Down monitor from
its status: same incident, never Pending, no second MonitorDown Event).

Every wait is a bounded poll (pharos.wait_for); nothing sleeps for synchronisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

import pytest
import yaml

import pharos
from pharos import wait_for
from target_server import TargetServer

REPO = pharos.REPO_ROOT
K8S_DIR = REPO / "tests" / "k8s"
sys.path.insert(0, str(K8S_DIR))

from control_plane import ControlPlane, require_tools  # noqa: E402

NS = "pharos-e2e"          # the namespace the replicas watch
OTHER_NS = "elsewhere"     # Monitors there must be ignored
QUIET_NS = "quiet"         # watched by a third operator used for the 410 re-list
SYSTEM_NS = "pharos-system"
LEASE = "pharos-operator"
REGIONS = ("eu-west", "us-east")
PROBE_TOKEN = "e2e-" + hashlib.sha256(os.urandom(16)).hexdigest()[:32]


# ---------------------------------------------------------------------------------- helpers

def k8s_bin() -> Path:
    return require_tools("kubectl", "kube-apiserver", "etcd", "etcdctl")


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → {'name{labels}': value} (labels as written by the exporter)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        samples[name] = float(value)
    return samples


def metric_sum(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


def stable_hash64(text: str) -> int:
    """src/common/stable_hash.h: FNV-1a then the MurmurHash3 finaliser."""
    mask = (1 << 64) - 1
    value = 14695981039346656037
    for byte in text.encode():
        value = ((value ^ byte) * 1099511628211) & mask
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & mask
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & mask
    value ^= value >> 33
    return value


def utc_now() -> str:
    """Now as the operator's log lines stamp it ("2026-11-26T01:23:24.277Z")."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_ms(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Process:
    """A child process started by the test (own session), stopped by PID."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        lines = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return lines

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if not self.alive():
            return
        os.kill(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


def start_process(name: str, args: list, workdir: Path) -> Process:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen([str(a) for a in args], stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    return Process(name, popen, log_path)


@dataclass
class Operator:
    identity: str
    process: Process
    url: str = ""

    def metrics(self) -> dict[str, float]:
        status, body = http_get(self.url + "/metrics")
        assert status == 200, body
        return parse_metrics(body)


@dataclass
class Env:
    cp: ControlPlane
    target: TargetServer
    workdir: Path
    token_file: Path
    regions_file: Path
    operators: dict[str, Operator] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    restart_window: tuple[str, str] = ("", "")  # API server restart: 403s expected meanwhile

    # --- kubectl -------------------------------------------------------------------------
    def kubectl(self, *args, **kwargs):
        return self.cp.kubectl(*args, **kwargs)

    def kubectl_json(self, *args) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, *objects: dict) -> None:
        self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": list(objects)}))

    def monitor_object(self, name: str, namespace: str = NS) -> dict | None:
        r = self.kubectl("get", "monitor", name, "-n", namespace, "-o", "json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def status(self, name: str, namespace: str = NS) -> dict:
        obj = self.monitor_object(name, namespace)
        return (obj or {}).get("status") or {}

    def wait_status(self, name: str, predicate, timeout: float = 60, namespace: str = NS,
                    what: str = "") -> dict:
        def check():
            status = self.status(name, namespace)
            return status if predicate(status) else None
        try:
            return wait_for(check, timeout=timeout, interval=0.5,
                            message=f"{namespace}/{name} status {what}")
        except TimeoutError as error:
            raise AssertionError(f"{error}\nlast status: {json.dumps(self.status(name, namespace))}"
                                 f"\n{self.describe_monitor(name, namespace)}"
                                 f"\n{self.describe_operators()}") from None

    def events(self, name: str, reason: str, namespace: str = NS) -> list[dict]:
        items = self.kubectl_json("get", "events", "-n", namespace, "--field-selector",
                                  f"involvedObject.name={name},reason={reason}")["items"]
        return items

    def lease_holder(self) -> str:
        r = self.kubectl("get", "lease", LEASE, "-n", SYSTEM_NS, "-o", "json", check=False)
        if r.returncode != 0:
            return ""
        return json.loads(r.stdout).get("spec", {}).get("holderIdentity") or ""

    def leader(self) -> Operator:
        holder = wait_for(lambda: self.lease_holder() in self.operators and self.lease_holder(),
                          timeout=40, interval=0.2, message="a leader among the replicas")
        return self.operators[holder]

    def results(self, name: str, namespace: str = NS) -> tuple[int, list[dict]]:
        status, body = http_get(f"{self.leader().url}/api/v1/monitors/{namespace}/{name}/results"
                                "?limit=200")
        return status, (json.loads(body).get("results", []) if status == 200 else [])

    def describe_monitor(self, name: str, namespace: str = NS) -> str:
        """What every live replica's JSON API says about the monitor (for failure reports)."""
        parts = []
        for op in self.operators.values():
            if op.process.alive():
                status, body = http_get(f"{op.url}/api/v1/monitors/{namespace}/{name}")
                parts.append(f"--- {op.identity} /api/v1/monitors/{namespace}/{name}: {status} "
                             f"{body[:3000]}")
        return "\n".join(parts)

    def describe_operators(self) -> str:
        parts = []
        for process in self.processes:
            lines = 40 if process.name.startswith("op-") else 15
            tail = "\n".join(process.log().splitlines()[-lines:])
            parts.append(f"--- {process.name} ({'alive' if process.alive() else 'exited'}) ---\n"
                         f"{tail}")
        return "\n".join(parts)

    # --- processes -----------------------------------------------------------------------
    def start_operator(self, identity: str, *extra: str, leader_elect: bool = True,
                       namespace: str = NS, regions: bool = True) -> Operator:
        args = [pharos.binary("pharos-operator"),
                "--kubeconfig", self.cp.kubeconfig_operator,
                "--namespace", namespace,
                "--listen", "127.0.0.1:0",
                "--db", self.workdir / f"{identity}.db",
                "--identity", identity,
                "--probe-token-file", self.token_file,
                "--status-interval", "2s",
                "--log-format", "json"]
        if leader_elect:
            args += ["--leader-elect", "--leader-election-namespace", SYSTEM_NS]
        if regions:
            args += ["--regions-config", self.regions_file,
                     "--operator-url", "http://pharos.pharos-system.svc:8080"]
        process = start_process(identity, [*args, *extra], self.workdir)
        self.processes.append(process)

        def started():
            assert process.alive(), f"{identity} exited:\n{process.log()}"
            for line in process.json_lines():
                if line.get("msg") == "pharos-operator started":
                    return line["listen"]
            return None
        url = wait_for(started, timeout=30, message=f"{identity} to start")
        op = Operator(identity, process, url)
        self.operators[identity] = op
        return op

    def start_probe(self, name: str, operator: Operator, region: str) -> Process:
        process = start_process(name, [pharos.binary("pharos-probe"), "--operator", operator.url,
                                       "--region", region, "--token-file", self.token_file,
                                       "--name", name, "--listen", "127.0.0.1:0",
                                       "--log-format", "json"], self.workdir)
        self.processes.append(process)
        return process


def http_monitor(env: Env, name: str, namespace: str = NS, frequency: str = "10s",
                 **extra) -> dict:
    spec = {"type": "http", "frequency": frequency, "timeout": "3s",
            "http": {"url": env.target.url(f"/state/{name}?tag={namespace}-{name}")},
            "alerting": {"failureThreshold": 1, "successThreshold": 1}}
    spec.update(extra)
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def chart_rbac() -> list[dict]:
    """The operator's RBAC exactly as the chart renders it (deploy/pharos.yaml)."""
    documents = [d for d in yaml.safe_load_all((REPO / "deploy" / "pharos.yaml").read_text()) if d]
    rbac = [d for d in documents
            if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")]
    subjects = [s for d in rbac if d["kind"].endswith("Binding") for s in d["subjects"]]
    assert subjects and all(s == {"kind": "ServiceAccount", "name": "pharos-operator",
                                  "namespace": SYSTEM_NS} for s in subjects), subjects
    return rbac


def install_pharos(cp, namespaces: tuple[str, ...], rbac: list[dict]) -> None:
    """Every Pharos CRD, established; the namespaces; the operator's RBAC (`rbac`)."""
    cp.kubectl("apply", "-f", str(REPO / "crds"))
    cp.wait_crds_established(*[path.name.removesuffix(".yaml")
                               for path in sorted((REPO / "crds").glob("*.yaml"))])
    for namespace in namespaces:
        cp.kubectl("create", "namespace", namespace)
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                     "items": rbac}))


# ---------------------------------------------------------------------------------- fixture

def chart_rbac_with(*helm_set: str) -> list[dict]:
    """The operator's RBAC as the chart renders it with `--set` values (e.g. the Secrets a
    feature's RBAC names: "alerting.secretNames={hook-secret}")."""
    helm = k8s_bin() / "helm"
    rendered = subprocess.run(
        [str(helm), "template", "pharos", str(REPO / "charts" / "pharos"), "--namespace",
         SYSTEM_NS, *[arg for value in helm_set for arg in ("--set", value)]],
        check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in
            ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")]


@contextlib.contextmanager
def pharos_env(workdir: Path, rbac: list[dict], *, namespaces: tuple[str, ...] = (SYSTEM_NS, NS),
               target: Optional[TargetServer] = None, regions_file: Optional[Path] = None,
               binaries: tuple[str, ...] = ("pharos-operator", "pharos-probe"),
               **control_plane_args) -> Iterator[Env]:
    """A real control plane with Pharos installed (CRDs, `namespaces`, `rbac`) and an Env on it
    whose processes are stopped on exit. The probe token is in workdir/token."""
    os.environ["PHAROS_K8S_BIN"] = str(k8s_bin())
    for binary in binaries:
        pharos.required_binary(binary)
    with ControlPlane(workdir / "cp", **control_plane_args) as cp:
        install_pharos(cp, namespaces, rbac)
        token_file = workdir / "token"
        token_file.write_text(PROBE_TOKEN + "\n")
        e = Env(cp, target, workdir, token_file, regions_file or workdir / "unused-regions.yaml")
        try:
            yield e
        finally:
            for process in reversed(e.processes):
                process.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("operator-e2e")
    regions_file = workdir / "regions.yaml"
    regions_file.write_text(yaml.safe_dump({
        "probe": {"image": "ghcr.io/pharos-dev/pharos-probe:e2e"},
        "regions": [{"name": region} for region in REGIONS]}))
    with TargetServer() as target, \
            pharos_env(workdir, chart_rbac(), namespaces=(SYSTEM_NS, NS, OTHER_NS, QUIET_NS),
                       target=target, regions_file=regions_file,
                       apiserver_args=["--watch-cache=false"]) as e:
        e.cp.kubectl("-n", SYSTEM_NS, "create", "secret", "generic", "pharos-probe-token",
                     f"--from-literal=token={PROBE_TOKEN}")
        a = e.start_operator("op-a")
        b = e.start_operator("op-b")
        for op in (a, b):
            for region in REGIONS:
                e.start_probe(f"probe-{op.identity}-{region}", op, region)
        yield e


# ---------------------------------------------------------------------------------- tests

def test_operator_identity_has_exactly_the_chart_rbac(env):
    """The operator user can do what the chart grants and nothing more."""
    def can(*args: str, namespace: str = NS) -> bool:
        r = env.kubectl("auth", "can-i", *args, "-n", namespace,
                        kubeconfig=env.cp.kubeconfig_operator, check=False)
        return r.stdout.strip() == "yes"
    assert can("watch", "monitors.pharos.dev")
    assert can("patch", "monitors.pharos.dev", "--subresource=status")
    assert can("create", "events")
    assert can("update", "leases.coordination.k8s.io", namespace=SYSTEM_NS)
    assert can("patch", "daemonsets.apps", namespace=SYSTEM_NS)
    # Discovery (docs/operator.md#discovery) writes the Monitors of annotated Ingresses and
    # HTTPRoutes: create, update, delete; nothing else on Monitors.
    assert can("create", "monitors.pharos.dev")
    assert can("delete", "monitors.pharos.dev")
    assert not can("patch", "monitors.pharos.dev")
    assert not can("deletecollection", "monitors.pharos.dev")
    assert not can("patch", "daemonsets.apps", namespace=NS)
    assert not can("list", "secrets", namespace=SYSTEM_NS)


def test_monitors_get_status_and_printer_columns(env):
    env.apply(http_monitor(env, "web"), http_monitor(env, "api"))
    for name in ("web", "api"):
        env.wait_status(name, lambda s: s.get("state") == "Up" and "uptime" in s
                        and "latency" in s, what="Up with uptime and latency")
    status = env.status("web")
    web = env.monitor_object("web")
    assert status["observedGeneration"] == web["metadata"]["generation"]
    assert status["target"] == env.target.url(f"/state/web?tag={NS}-web")
    assert status["uptime"]["last24h"] == "100.00"
    assert re.fullmatch(r"\d+\.\d\d", status["uptime"]["last7d"])
    assert status["latency"]["p50Ms"] >= 0 and status["latency"]["p95Ms"] >= 0
    assert sorted(r["name"] for r in status["regions"]) == list(REGIONS)
    assert all(r["state"] == "Up" and r["statusCode"] == 200 for r in status["regions"])
    assert "incident" not in status
    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert len(ready) == 1 and ready[0]["status"] == "True" and ready[0]["reason"] == "Up"
    assert ready[0]["observedGeneration"] == web["metadata"]["generation"]

    table = env.kubectl("get", "mon", "-n", NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATE", "TARGET", "FREQUENCY", "UPTIME", "LATENCY",
                                "AGE"], table
    row = next(line.split() for line in table[1:] if line.split()[0] == "web")
    assert row[1:5] == ["Up", status["target"], "10s", "100.00"], row
    assert row[5] == str(status["latency"]["p50Ms"]), row


def test_target_failure_and_recovery_change_status_and_emit_events(env):
    env.apply(http_monitor(env, "flaky"))
    env.wait_status("flaky", lambda s: s.get("state") == "Up", what="Up")
    before = env.status("flaky")
    env.target.set_state("flaky", 503)
    down = env.wait_status("flaky", lambda s: s.get("state") == "Down", what="Down")
    assert down["incident"]["id"]
    assert "503" in down["message"], down
    ready = next(c for c in down["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "Down"
    assert ready["lastTransitionTime"] == down["lastTransitionTime"]
    assert down["lastTransitionTime"] > before["lastTransitionTime"]
    assert any(r.get("statusCode") == 503 for r in down["regions"])
    wait_for(lambda: env.events("flaky", "MonitorDown"), timeout=30,
             message="a MonitorDown Event")
    event = env.events("flaky", "MonitorDown")[0]
    assert event["type"] == "Warning" and "503" in event["message"], event

    env.target.set_state("flaky", 200)
    up = env.wait_status("flaky", lambda s: s.get("state") == "Up", what="Up again")
    assert "incident" not in up
    ready = next(c for c in up["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["lastTransitionTime"] == up["lastTransitionTime"]
    wait_for(lambda: env.events("flaky", "MonitorUp"), timeout=30, message="a MonitorUp Event")
    assert env.events("flaky", "MonitorUp")[0]["type"] == "Normal"


def test_spec_the_api_server_accepts_but_the_operator_refuses_is_invalid(env):
    bad = http_monitor(env, "bad-regex", assertions=[
        {"type": "body", "op": "matches", "value": "(unclosed"}])
    # The API server accepts it (no CEL rule compiles regexes)...
    env.apply(bad)
    # ... the operator does not.
    status = env.wait_status("bad-regex", lambda s: s.get("state") == "Invalid", what="Invalid")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "Invalid"
    assert "assertions[0]" in ready["message"] and ready["message"] == status["message"]
    wait_for(lambda: env.events("bad-regex", "InvalidSpec"), timeout=30,
             message="an InvalidSpec Event")
    assert env.events("bad-regex", "InvalidSpec")[0]["type"] == "Warning"
    assert env.target.count(f"{NS}-bad-regex") == 0

    # Fixing the spec makes it a normal monitor again.
    env.apply(http_monitor(env, "bad-regex", assertions=[
        {"type": "body", "op": "matches", "value": "state [a-z-]+: 200"}]))
    env.wait_status("bad-regex", lambda s: s.get("state") == "Up", what="Up after the fix")


def test_monitors_outside_the_watched_namespace_are_ignored(env):
    env.apply(http_monitor(env, "outsider", namespace=OTHER_NS))
    env.apply(http_monitor(env, "insider"))
    # The insider, created after the outsider, is picked up: the outsider had its chance.
    env.wait_status("insider", lambda s: s.get("state") == "Up", what="Up")
    assert env.status("outsider", namespace=OTHER_NS) == {}
    status, body = http_get(f"{env.leader().url}/api/v1/monitors")
    names = {(m["namespace"], m["name"]) for m in json.loads(body)["monitors"]}
    assert (NS, "insider") in names and (OTHER_NS, "outsider") not in names
    assert env.target.count(f"{OTHER_NS}-outsider") == 0


def test_frequency_change_moves_the_monitor_to_its_new_queue_and_phase(env):
    env.apply(http_monitor(env, "phased"))
    env.wait_status("phased", lambda s: s.get("state") == "Up", what="Up")
    uid = env.monitor_object("phased")["metadata"]["uid"]
    env.kubectl("patch", "monitor", "phased", "-n", NS, "--type=merge",
                "-p", json.dumps({"spec": {"frequency": "30s"}}))
    env.wait_status("phased", lambda s: s.get("observedGeneration") == 2,
                    what="observedGeneration 2")

    def second_generation_result():
        status, results = env.results("phased")
        return [r for r in results if r["generation"] == 2]
    results = wait_for(second_generation_result, timeout=75, interval=1,
                       message="a result of the 30s schedule")
    phase = stable_hash64(uid) % 30000
    for result in results:
        assert (epoch_ms(result["scheduledAt"]) - phase) % 30000 == 0, (result, phase)
    lateness = metric_sum(env.leader().metrics(),
                          'pharos_scheduler_lateness_seconds_count{frequency="30s"}')
    assert lateness >= 1


def test_deleting_a_monitor_stops_its_checks_at_once(env):
    env.apply(http_monitor(env, "doomed"), http_monitor(env, "witness"))
    for name in ("doomed", "witness"):
        env.wait_status(name, lambda s: s.get("state") == "Up", what="Up")
    wait_for(lambda: env.results("doomed")[1], timeout=30, message="results of doomed")
    env.kubectl("delete", "monitor", "doomed", "-n", NS)
    wait_for(lambda: env.results("doomed")[0] == 404, timeout=15,
             message="the operator to forget the deleted monitor")
    checks_after_delete = env.target.count(f"{NS}-doomed")
    witness = env.target.count(f"{NS}-witness")
    # Two more rounds of the witness (both regions, 10 s apart) and not one more for doomed.
    wait_for(lambda: env.target.count(f"{NS}-witness") >= witness + 4, timeout=40, interval=0.5,
             message="two more rounds of the witness monitor")
    # A check leased just before the delete may still land; nothing after it.
    assert env.target.count(f"{NS}-doomed") <= checks_after_delete + len(REGIONS)
    assert env.results("doomed")[0] == 404


def test_probe_daemonsets_follow_the_regions_config(env):
    def daemonsets() -> dict[str, dict]:
        items = env.kubectl_json("get", "daemonsets", "-n", SYSTEM_NS, "--show-managed-fields",
                                 "-l", "app.kubernetes.io/managed-by=pharos-operator")["items"]
        return {d["metadata"]["name"]: d for d in items}

    wait_for(lambda: set(daemonsets()) == {f"pharos-probe-{r}" for r in REGIONS}, timeout=30,
             message="one probe DaemonSet per region")
    eu = daemonsets()["pharos-probe-eu-west"]
    container = eu["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/pharos-dev/pharos-probe:e2e"
    assert container["args"][:4] == ["--operator", "http://pharos.pharos-system.svc:8080",
                                     "--region", "eu-west"]
    assert eu["spec"]["template"]["spec"]["nodeSelector"] == {
        "topology.kubernetes.io/region": "eu-west"}
    managers = {m["manager"] for m in eu["metadata"]["managedFields"]}
    assert managers == {"pharos-operator"}, managers

    original = env.regions_file.read_text()
    env.regions_file.write_text(yaml.safe_dump({
        "probe": {"image": "ghcr.io/pharos-dev/pharos-probe:e2e-2"},
        "regions": [{"name": "eu-west"}, {"name": "ap-south"}]}))
    try:
        def updated():
            current = daemonsets()
            return (set(current) == {"pharos-probe-eu-west", "pharos-probe-ap-south"}
                    and current["pharos-probe-eu-west"]["spec"]["template"]["spec"]
                    ["containers"][0]["image"].endswith(":e2e-2"))
        wait_for(updated, timeout=30, interval=0.5,
                 message="DaemonSets updated: us-east removed, ap-south added, new image")
    finally:
        env.regions_file.write_text(original)
    wait_for(lambda: set(daemonsets()) == {f"pharos-probe-{r}" for r in REGIONS}, timeout=30,
             message="DaemonSets back to the original regions")


def test_exactly_one_replica_leads_and_only_it_writes(env):
    leader = env.leader()
    follower = next(op for op in env.operators.values() if op is not leader)
    wait_for(lambda: leader.metrics().get("pharos_leader") == 1, timeout=10,
             message="pharos_leader 1 on the leader")
    follower_metrics = follower.metrics()
    assert follower_metrics.get("pharos_leader") == 0
    assert metric_sum(follower_metrics, "pharos_status_writes_total") == 0
    assert follower_metrics.get("pharos_monitors_scheduled") == 0
    # The standby still follows the Monitors (ready to take over at once).
    assert follower_metrics.get("pharos_monitors", 0) >= 5
    leader_metrics = leader.metrics()
    assert leader_metrics.get('pharos_status_writes_total{result="ok"}', 0) > 0
    assert leader_metrics.get("pharos_monitors_scheduled", 0) >= 5


def test_api_server_restart_and_410_relist(env):
    quiet = env.start_operator("op-quiet", leader_elect=False, namespace=QUIET_NS, regions=False)
    wait_for(lambda: quiet.metrics().get("pharos_informer_synced") == 1
             and quiet.metrics().get("pharos_informer_watches_total", 0) >= 1,
             timeout=30, message="the quiet operator watching")
    # Its watch stays at the list's resourceVersion (nothing happens in its namespace); move etcd
    # on, compact, and restart the API server so that it must watch again from a compacted RV.
    for i in range(3):
        env.kubectl("create", "configmap", f"bump-{i}", "-n", QUIET_NS)
    env.cp.compact()
    restart_began = utc_now()
    env.cp.restart_apiserver()
    # Created while the replicas' watches were broken by the restart.
    env.apply(http_monitor(env, "after-restart"))
    env.wait_status("after-restart", lambda s: s.get("state") == "Up", timeout=90,
                    what="picked up after the API server restart")
    env.restart_window = (restart_began, utc_now())
    wait_for(lambda: quiet.metrics().get("pharos_informer_relists_total", 0) >= 1, timeout=60,
             interval=0.5, message="a re-list after 410 Gone")
    lists = quiet.metrics()["pharos_informer_lists_total"]
    assert lists >= 2, lists
    # The re-listed informer watches again: a Monitor in its namespace is picked up.
    env.apply(http_monitor(env, "quiet-one", namespace=QUIET_NS))
    env.wait_status("quiet-one", lambda s: s.get("state") in ("Up", "Pending"), timeout=30,
                    namespace=QUIET_NS, what="written by the quiet operator")
    quiet.process.stop()


def test_leader_killed_the_standby_takes_over_and_status_keeps_updating(env):
    leader = env.leader()
    standby = next(op for op in env.operators.values() if op is not leader and
                   op.identity in ("op-a", "op-b"))
    # A monitor Down with an open incident when the leader dies. failureThreshold 2: a new
    # leader that started it from Pending would show Pending after its first bad round and open
    # a second incident after the next.
    env.target.set_state("sticky", 503)
    env.apply(http_monitor(env, "sticky", alerting={"failureThreshold": 2,
                                                     "successThreshold": 1}))
    sticky = env.wait_status("sticky", lambda s: s.get("state") == "Down" and s.get("incident"),
                             timeout=60, what="Down with an incident")
    wait_for(lambda: env.events("sticky", "MonitorDown"), timeout=30,
             message="the MonitorDown Event of sticky")
    # Every version of the object from here on, as a watching client sees it.
    watch = start_process("watch-sticky", [env.cp.bin_dir / "kubectl", "--kubeconfig",
                                           env.cp.kubeconfig, "get", "monitor", "sticky", "-n",
                                           NS, "-o", "json", "--watch"], env.workdir)
    env.processes.append(watch)
    wait_for(lambda: watched_objects(watch), timeout=30, message="kubectl watching sticky")
    before = env.status("web")
    before_sticky = env.status("sticky")
    leader.process.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    # Lease duration 15 s, retry period 2 s (+ jitter), plus slack.
    wait_for(lambda: env.lease_holder() == standby.identity, timeout=30, interval=0.2,
             message=f"{standby.identity} to take the Lease over")
    takeover = time.monotonic() - killed_at
    wait_for(lambda: standby.metrics().get("pharos_leader") == 1, timeout=5,
             message="pharos_leader 1 on the new leader")
    del env.operators[leader.identity]
    # Results flow to the new leader (its probes back off while it was a standby) and the
    # status moves on.
    env.wait_status("web", lambda s: s.get("lastCheckTime", "") > before.get("lastCheckTime", "")
                    and s.get("state") == "Up", timeout=75,
                    what="lastCheckTime advanced by the new leader")
    assert standby.metrics().get('pharos_status_writes_total{result="ok"}', 0) > 0
    # The new leader resumed sticky from its status: checked again, still Down with the same
    # incident, never Pending in between, and no second MonitorDown Event.
    env.wait_status("sticky", lambda s: s.get("lastCheckTime", "")
                    > before_sticky.get("lastCheckTime", "") and s.get("state") == "Down",
                    timeout=75, what="sticky checked by the new leader")
    wait_for(lambda: any(o["status"].get("lastCheckTime", "") > before_sticky["lastCheckTime"]
                         for o in watched_objects(watch)), timeout=30,
             message="the watch seeing the new leader's write")
    watch.stop()
    seen = [(o["status"].get("state"), (o["status"].get("incident") or {}).get("id"))
            for o in watched_objects(watch)]
    assert set(seen) == {("Down", sticky["incident"]["id"])}, seen
    down_events = env.events("sticky", "MonitorDown")
    assert sum(e.get("count") or 1 for e in down_events) == 1, down_events
    # A state change after the fail-over is still written at once.
    env.target.set_state("api", 503)
    env.wait_status("api", lambda s: s.get("state") == "Down", timeout=45, what="Down")
    env.target.set_state("api", 200)
    print(f"takeover after {takeover:.1f} s")


def watched_objects(process: Process) -> list[dict]:
    """The objects `kubectl get -o json --watch` printed so far (each starts a line with '{')."""
    text = process.log()
    decoder = json.JSONDecoder()
    objects = []
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and value.get("kind") == "Monitor":
            objects.append(value)
    return objects


def test_no_permission_errors_in_the_operator_logs(env):
    """Every request the operator made was allowed by the chart's RBAC. A freshly restarted API
    server answers 403 for a moment while its RBAC caches fill: those lines are expected."""
    began, ended = env.restart_window
    for process in env.processes:
        if not process.name.startswith("op-"):
            continue
        forbidden = [line for line in process.json_lines()
                     if "Forbidden" in json.dumps(line) or "HTTP 403" in json.dumps(line)]
        outside = [line for line in forbidden if not began <= line.get("ts", "") <= ended]
        assert not outside, f"{process.name}: " + "\n".join(map(json.dumps, outside))
        assert not [line for line in process.log().splitlines()
                    if not line.startswith("{") and "Forbidden" in line], process.name
