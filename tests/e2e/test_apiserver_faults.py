"""pharos-operator against a failing API server (issue #16, "Fault injection: the API server").

A real etcd + kube-apiserver (tests/k8s) with Pharos' CRDs and the chart's RBAC (install_pharos);
pharos-operator and pharos-probe run as local processes (as in test_operator.py), checking the
loopback target server. Three scenarios, each with its own namespace and operators:

(a) kube-apiserver stopped by PID for PHAROS_E2E_APISERVER_OUTAGE seconds (default 20; the
    issue's two minutes are shortened to keep CI fast: nothing in the operator changes between
    20 s and 2 min, the informer's backoff is capped at 30 s and nothing times out in between),
    then started again on the same port. The target goes down during the outage. Checks go on
    (results keep arriving on the JSON API, the state turns Down there), and after the restart
    Monitor.status catches up (Down, with the incident the JSON API shows), and the MonitorDown
    Event recorded during the outage arrives (retried with backoff, stamped with the time it
    happened).
(b) A fault-injecting reverse proxy (tests/support/kube_fault_proxy.py) between the operator and
    the API server: every watch cut after 3 s (a Monitor created meanwhile is reconciled), every
    request answered 500 (checks go on; status catches up after), every request answered 429 with
    Retry-After (counted at the proxy: nobody retries sooner than asked, no hot loop).
(c) Leader election with a short lease (8 s / renew deadline 4 s / retry 1 s), each replica behind
    its own proxy. The leader's Lease requests are blackholed while everything else still passes:
    watched directly on the API server, it stops writing Monitor statuses and Events before its
    lease could be taken over, and the other replica then takes over and writes.

Every wait is a bounded poll; the only waits of fixed length are the faults themselves.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

import pharos
from kube_fault_proxy import KubeFaultProxy
from pharos import wait_for
from target_server import TargetServer
from test_operator import (SYSTEM_NS, Operator, Process, chart_rbac, http_get, install_pharos,
                           k8s_bin, metric_sum, parse_metrics, start_process)

from control_plane import ControlPlane  # noqa: E402  (tests/k8s, put on sys.path by test_operator)

NS_A, NS_B, NS_C = "faults-a", "faults-b", "faults-c"
REGION = "local"
PROBE_TOKEN = "faults-" + os.urandom(12).hex()
OUTAGE_SECONDS = float(os.environ.get("PHAROS_E2E_APISERVER_OUTAGE", "20"))
LEASE, LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = "faults-c", 8.0, 4.0, 1.0


# ---------------------------------------------------------------------------------- helpers

@dataclass
class World:
    cp: ControlPlane
    target: TargetServer
    workdir: Path
    token_file: Path
    processes: list[Process] = field(default_factory=list)

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.cp.kubectl(*args, "-o", "json").stdout)

    def apply(self, *objects: dict) -> None:
        self.cp.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def status(self, namespace: str, name: str) -> dict:
        r = self.cp.kubectl("get", "monitor", name, "-n", namespace, "-o", "json", check=False)
        return (json.loads(r.stdout).get("status") or {}) if r.returncode == 0 else {}

    def wait_status(self, namespace: str, name: str, predicate, timeout: float = 60,
                    what: str = "") -> dict:
        def check():
            status = self.status(namespace, name)
            return status if predicate(status) else None
        try:
            return wait_for(check, timeout=timeout, interval=0.5,
                            message=f"{namespace}/{name} status {what}")
        except TimeoutError as error:
            raise AssertionError(f"{error}\nlast status: {self.status(namespace, name)}\n"
                                 f"{self.logs()}") from None

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n" + "\n".join(p.log().splitlines()[-30:])
                         for p in self.processes)

    def start_operator(self, identity: str, namespace: str, kubeconfig: Path,
                       *extra: str) -> Operator:
        args = [pharos.binary("pharos-operator"), "--kubeconfig", kubeconfig,
                "--namespace", namespace, "--listen", "127.0.0.1:0",
                "--db", self.workdir / f"{identity}.db", "--identity", identity,
                "--probe-token-file", self.token_file, "--status-interval", "1s",
                "--log-format", "json", *extra]
        process = start_process(identity, args, self.workdir)
        self.processes.append(process)

        def started():
            assert process.alive(), f"{identity} exited:\n{process.log()}"
            for line in process.json_lines():
                if line.get("msg") == "pharos-operator started":
                    return line["listen"]
            return None
        op = Operator(identity, process, wait_for(started, timeout=30,
                                                  message=f"{identity} to start"))
        probe = start_process(f"probe-{identity}", [
            pharos.binary("pharos-probe"), "--operator", op.url, "--region", REGION,
            "--token-file", self.token_file, "--name", f"probe-{identity}",
            "--listen", "127.0.0.1:0", "--log-format", "json"], self.workdir)
        self.processes.append(probe)
        return op

    def stop(self, op: Operator) -> None:
        for process in self.processes:
            if process.name in (op.identity, f"probe-{op.identity}"):
                process.stop()


def monitor(world: World, namespace: str, name: str) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "http", "frequency": "10s", "timeout": "3s", "regions": [REGION],
                     "http": {"url": world.target.url(f"/state/{namespace}-{name}")},
                     "alerting": {"failureThreshold": 1, "successThreshold": 1}}}


def api_monitor(op: Operator, namespace: str, name: str) -> dict:
    status, body = http_get(f"{op.url}/api/v1/monitors/{namespace}/{name}")
    return json.loads(body) if status == 200 else {}


def results_since(op: Operator, namespace: str, name: str, since_wall: str) -> list[dict]:
    status, body = http_get(f"{op.url}/api/v1/monitors/{namespace}/{name}/results?limit=200")
    assert status == 200, body
    return [r for r in json.loads(body)["results"] if r["scheduledAt"] >= since_wall]


def epoch_s(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"


class ApiWatch:
    """Watches one collection on the real API server (admin token) and records every event with
    the local monotonic time it arrived: what a client of the API server sees being written."""

    def __init__(self, cp: ControlPlane, path: str, query: dict[str, str] | None = None) -> None:
        self.events: list[tuple[float, dict]] = []
        self._lock = threading.Lock()
        parsed = urllib.parse.urlsplit(cp.url)
        self._connection = http.client.HTTPSConnection(
            parsed.hostname, parsed.port, timeout=600,
            context=ssl.create_default_context(cafile=str(cp.ca_file)))
        params = {"watch": "1", "timeoutSeconds": "600", **(query or {})}
        self._connection.request("GET", f"{path}?{urllib.parse.urlencode(params)}",
                                 headers={"Authorization": f"Bearer {cp.admin_token}"})
        self._response = self._connection.getresponse()
        assert self._response.status == 200, self._response.read()
        self._thread = threading.Thread(target=self._run, name="api-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                line = self._response.readline()
                if not line:
                    return
                event = json.loads(line)
                with self._lock:
                    self.events.append((time.monotonic(), event))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return  # closed by close() (http.client may fail on its own closed socket)

    def seen(self) -> list[tuple[float, dict]]:
        with self._lock:
            return list(self.events)

    def close(self) -> None:
        try:
            self._connection.sock.shutdown(2)
        except (OSError, AttributeError):
            pass
        self._connection.close()


# ---------------------------------------------------------------------------------- fixture

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    os.environ["PHAROS_K8S_BIN"] = str(k8s_bin())
    for binary in ("pharos-operator", "pharos-probe"):
        pharos.required_binary(binary)
    workdir = tmp_path_factory.mktemp("apiserver-faults")
    with ControlPlane(workdir / "cp") as cp, TargetServer() as target:
        install_pharos(cp, (SYSTEM_NS, NS_A, NS_B, NS_C), chart_rbac())
        token_file = workdir / "token"
        token_file.write_text(PROBE_TOKEN + "\n")
        w = World(cp, target, workdir, token_file)
        try:
            yield w
        finally:
            for process in reversed(w.processes):
                process.stop()


# ---------------------------------------------------------------------------------- (a)

def test_apiserver_down_checks_go_on_and_status_catches_up(world):
    op = world.start_operator("op-a", NS_A, world.cp.kubeconfig_operator)
    world.apply(monitor(world, NS_A, "web"))
    world.wait_status(NS_A, "web", lambda s: s.get("state") == "Up", what="Up")

    outage_began = time.monotonic()
    since = utc_now()
    outage_wall = time.time()
    world.cp.stop_apiserver()
    try:
        world.target.set_state(f"{NS_A}-web", 503)
        # Checks go on without the API server: results arrive, the state turns Down.
        down = wait_for(lambda: (m := api_monitor(op, NS_A, "web")).get("state") == "Down" and m,
                        timeout=OUTAGE_SECONDS + 30, interval=0.5,
                        message="Down on the JSON API during the outage")
        wait_for(lambda: len(results_since(op, NS_A, "web", since)) >= 2,
                 timeout=OUTAGE_SECONDS + 30, interval=0.5,
                 message="two rounds of results during the outage")
        metrics = parse_metrics(http_get(op.url + "/metrics")[1])
        assert metric_sum(metrics, "pharos_informer_watch_failures_total") >= 1, metrics
        # The outage itself: the operator keeps failing to reach the API server meanwhile.
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_began)))
        assert op.process.alive()
    finally:
        world.cp.start_apiserver()
    restart_wall = time.time()
    print(f"API server down for {time.monotonic() - outage_began:.1f} s")

    status = world.wait_status(NS_A, "web", lambda s: s.get("state") == "Down"
                               and s.get("incident"), timeout=60,
                               what="Down with an incident after the restart")
    assert status["incident"]["id"] == down["incident"]["id"], (status, down)
    assert "503" in status["message"], status
    # The MonitorDown Event of the outage was kept and sent again once the API server was back.
    def down_events():
        items = world.kubectl_json("get", "events", "-n", NS_A, "--field-selector",
                                   "involvedObject.name=web,reason=MonitorDown")["items"]
        return items or None
    events = wait_for(down_events, timeout=60, interval=0.5,
                      message="the MonitorDown Event of the outage")
    happened = min(epoch_s(e["firstTimestamp"]) for e in events)
    assert int(outage_wall) <= happened <= restart_wall, (outage_wall, events, restart_wall)
    metrics = parse_metrics(http_get(op.url + "/metrics")[1])
    assert metrics.get('pharos_kube_events_total{result="retried"}', 0) >= 1, metrics
    # And it keeps following: the target recovers, the status says so.
    world.target.set_state(f"{NS_A}-web", 200)
    world.wait_status(NS_A, "web", lambda s: s.get("state") == "Up", timeout=45, what="Up again")
    world.stop(op)


# ---------------------------------------------------------------------------------- (b)

def test_500s_429s_and_closed_watches_through_a_fault_proxy(world):
    with KubeFaultProxy(world.cp.url, world.cp.ca_file) as proxy:
        kubeconfig = proxy.kubeconfig(world.workdir / "kubeconfig-b", world.cp.operator_token)
        op = world.start_operator("op-b", NS_B, kubeconfig)
        world.apply(monitor(world, NS_B, "steady"))
        world.wait_status(NS_B, "steady", lambda s: s.get("state") == "Up", what="Up")
        monitors = f"/apis/pharos.dev/v1alpha1/namespaces/{NS_B}/monitors"

        # Watches cut every 3 s: a Monitor created meanwhile is still picked up, by a re-watch
        # from the last resourceVersion.
        proxy.close_watches_every(3)
        began = time.monotonic()
        try:
            wait_for(lambda: len([s for s in proxy.requests(began)
                                  if s.watch and s.path == monitors]) >= 3,
                     timeout=30, interval=0.5, message="three monitor watches cut and renewed")
        except TimeoutError:
            raise AssertionError("\n".join(map(str, proxy.requests())) + world.logs()) from None
        world.apply(monitor(world, NS_B, "late"))
        world.wait_status(NS_B, "late", lambda s: s.get("state") == "Up", timeout=60,
                          what="Up, created while watches keep closing")
        proxy.close_watches_every(0)

        # Every request answered 500: checks go on, the status catches up afterwards.
        proxy.set_rule("500")
        since = utc_now()
        began = time.monotonic()
        world.target.set_state(f"{NS_B}-steady", 503)
        wait_for(lambda: api_monitor(op, NS_B, "steady").get("state") == "Down", timeout=30,
                 interval=0.5, message="Down on the JSON API while the API server answers 500")
        wait_for(lambda: results_since(op, NS_B, "steady", since), timeout=30, interval=0.5,
                 message="results while the API server answers 500")
        assert [s for s in proxy.requests(began) if s.code == 500]
        proxy.set_rule("pass")
        world.wait_status(NS_B, "steady", lambda s: s.get("state") == "Down", timeout=45,
                          what="Down after the 500s")

        # Every request answered 429 with Retry-After: nobody asks again sooner than told.
        retry_after, window = 4, 12.0
        proxy.set_rule("429", retry_after=retry_after)
        began = time.monotonic()
        world.target.set_state(f"{NS_B}-steady", 200)
        wait_for(lambda: api_monitor(op, NS_B, "steady").get("state") == "Up", timeout=30,
                 interval=0.5, message="Up on the JSON API while the API server answers 429")
        time.sleep(max(0.0, window - (time.monotonic() - began)))  # the fault's duration
        proxy.set_rule("pass")
        seen = [s for s in proxy.requests(began) if s.at < began + window and s.code == 429]
        assert seen
        streams: dict[tuple[str, str, bool], list[float]] = {}
        for s in seen:
            streams.setdefault((s.method, s.path, s.watch), []).append(s.at)
        report = {f"{m} {p}{' (watch)' if w else ''}": len(t) for (m, p, w), t in streams.items()}
        print(f"429 window {window} s, Retry-After {retry_after} s: {len(seen)} requests: {report}")
        for (method, path, is_watch), times in streams.items():
            # One caller per stream, asking again no sooner than Retry-After: at most
            # window / Retry-After + 1 requests (a retry every second gave 11).
            assert len(times) <= window / retry_after + 1, (method, path, is_watch, times)
        assert len(seen) < 100, report
        world.wait_status(NS_B, "steady", lambda s: s.get("state") == "Up", timeout=45,
                          what="Up after the 429s")
        world.stop(op)


# ---------------------------------------------------------------------------------- (c)

def test_a_leader_that_cannot_renew_stops_writing_before_its_lease_expires(world):
    with KubeFaultProxy(world.cp.url, world.cp.ca_file) as proxy_1, \
            KubeFaultProxy(world.cp.url, world.cp.ca_file) as proxy_2:
        election = ["--leader-elect", "--leader-election-namespace", SYSTEM_NS,
                    "--leader-election-id", LEASE, "--lease-duration", f"{LEASE_DURATION:g}s",
                    "--renew-deadline", f"{RENEW_DEADLINE:g}s",
                    "--retry-period", f"{RETRY_PERIOD:g}s"]
        proxies = {"op-c1": proxy_1, "op-c2": proxy_2}
        ops = {identity: world.start_operator(
                   identity, NS_C, proxy.kubeconfig(world.workdir / f"kubeconfig-{identity}",
                                                    world.cp.operator_token), *election)
               for identity, proxy in proxies.items()}
        names = [f"m{i}" for i in range(6)]  # six phases: a status write every ~2 s
        world.apply(*[monitor(world, NS_C, name) for name in names])
        for name in names:
            world.wait_status(NS_C, name, lambda s: s.get("state") == "Up", what="Up")

        def holder() -> str:
            lease = world.kubectl_json("get", "lease", LEASE, "-n", SYSTEM_NS)
            return lease["spec"].get("holderIdentity") or ""
        leader_id = holder()
        assert leader_id in ops, leader_id
        follower_id = next(i for i in ops if i != leader_id)
        leases = ApiWatch(world.cp, f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NS}/leases",
                          {"fieldSelector": f"metadata.name={LEASE}"})
        statuses = ApiWatch(world.cp, f"/apis/pharos.dev/v1alpha1/namespaces/{NS_C}/monitors")
        events = ApiWatch(world.cp, f"/api/v1/namespaces/{NS_C}/events")
        try:
            wait_for(lambda: len(statuses.seen()) >= len(names) + 2, timeout=30, interval=0.2,
                     message="status writes flowing")
            # The leader can reach everything but its Lease: the requests hang unanswered.
            proxies[leader_id].set_rule("blackhole", paths=r"/leases/")
            cut = time.monotonic()
            world.target.set_state(f"{NS_C}-m0", 503)  # a transition: a status write, an Event
            wait_for(lambda: holder() == follower_id, timeout=LEASE_DURATION + 30, interval=0.2,
                     message=f"{follower_id} to take the Lease over")

            def holder_of(event: dict) -> str:
                return event["object"]["spec"].get("holderIdentity") or ""
            lease_events = leases.seen()
            takeover = min(t for t, e in lease_events if holder_of(e) == follower_id)
            renewals = [t for t, e in lease_events
                        if holder_of(e) == leader_id and t < takeover]
            # The old leader's last renewal as a watcher of the API server saw it: nobody could
            # take the lease before last_renewal + LEASE_DURATION.
            last_renewal = max(renewals) if renewals else cut
            old_writes = [t for t, e in statuses.seen()
                          if e["type"] == "MODIFIED" and cut <= t < takeover]
            old_events = [t for t, e in events.seen()
                          if e["object"].get("reportingInstance") == leader_id and t >= cut]
            print(f"cut at 0; last renewal seen {last_renewal - cut:+.1f} s; old leader's status "
                  f"writes at {[round(t - cut, 1) for t in old_writes]}; its Events at "
                  f"{[round(t - cut, 1) for t in old_events]}; takeover at {takeover - cut:.1f} s")
            safe_until = last_renewal + LEASE_DURATION
            assert all(t < safe_until for t in old_writes), (old_writes, safe_until)
            assert all(t < safe_until for t in old_events), (old_events, safe_until)
            assert takeover >= safe_until - 0.5, (takeover - last_renewal)

            old, new = ops[leader_id], ops[follower_id]
            wait_for(lambda: old.metrics().get("pharos_leader") == 0, timeout=10,
                     message="the old leader to say it is not leading")
            wait_for(lambda: new.metrics().get("pharos_leader") == 1, timeout=10,
                     message="the new leader to say it leads")
            old_ok = old.metrics().get('pharos_status_writes_total{result="ok"}', 0)
            # The new leader writes: m0's Down (the old leader may have written it already), and
            # the next round of every monitor.
            after = time.monotonic()
            wait_for(lambda: len({e["object"]["metadata"]["name"] for t, e in statuses.seen()
                                  if t > after and e["type"] == "MODIFIED"}) >= 3, timeout=45,
                     interval=0.5, message="status writes by the new leader")
            world.wait_status(NS_C, "m0", lambda s: s.get("state") == "Down", timeout=30,
                              what="Down")
            assert new.metrics().get('pharos_status_writes_total{result="ok"}', 0) > 0
            assert old.metrics().get('pharos_status_writes_total{result="ok"}', 0) == old_ok
            # Its Lease reachable again, the old leader stays a follower.
            proxies[leader_id].set_rule("pass")
            wait_for(lambda: old.metrics().get("pharos_leader") == 0 and holder() == follower_id,
                     timeout=10, message="the old leader staying a follower")
        finally:
            for watch in (leases, statuses, events):
                watch.close()
            for op in ops.values():
                world.stop(op)
