"""Monitors of a Service's every ready endpoint (spec.target.service) in pharos-operator, on a
real kube-apiserver + etcd (tests/k8s).

No controllers run, so the test writes the Service and its EndpointSlices itself, pointing at
HTTP backends it starts on loopback addresses (127.0.0.1, 127.0.0.2, ... all on one port, each a
server of its own whose answer the test sets). The API server refuses loopback endpoint
addresses (validation: "may not be in the loopback range"), and tests may send traffic to
loopback only, so the slices are written to etcd under /registry/endpointslices/ as JSON (which
the API server reads like its own encoding): the operator still lists and watches them through
the real API server, and every change is an etcd write it sees as a watch event. The operator
runs as
system:serviceaccount:pharos-system:pharos-operator with the chart's RBAC (deploy/pharos.yaml),
so reading EndpointSlices is proven to be granted; a local pharos-probe checks.

Covered: every ready endpoint checked in one round with the Service's Host header (not-ready
endpoints and those of other Services left out), one failing endpoint named in Monitor.status
(failingEndpoints, the region's message), the slice updated to drop it and the monitor
recovering without restarting anything, an endpoint added later being checked, and a Service
with no ready endpoint being Down with that reason.

Every wait is a bounded poll (pharos.wait_for); nothing sleeps for synchronisation.
"""

from __future__ import annotations

import json
import socket
import sys
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pharos import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import NS, Env, chart_rbac, pharos_env  # noqa: E402


REGION = "eu-west"
SERVICE = "orders"


# ---------------------------------------------------------------------------------- backends

@dataclass
class Backend:
    """One endpoint: an HTTP server on its own loopback address answering `code` on /healthz."""

    address: str
    server: ThreadingHTTPServer
    code: int = 200
    hosts: list[str] = field(default_factory=list)  # Host headers seen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self) -> int:
        with self.lock:
            return len(self.hosts)


def start_backend(address: str, port: int) -> Backend:
    backend: Backend | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            with backend.lock:
                backend.hosts.append(self.headers.get("Host", ""))
                code = backend.code
            body = f"{backend.address} {code}\n".encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    backend = Backend(address, server)
    threading.Thread(target=server.serve_forever, name=f"backend-{address}", daemon=True).start()
    return backend


def free_port_on_every(addresses: list[str]) -> int:
    """A port free on 127.0.0.1 (the OS picks it) that the other addresses can bind too."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            for address in addresses:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((address, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on every loopback address")


# ---------------------------------------------------------------------------------- objects

def endpoint_slice(name: str, service: str, port: int, endpoints: list[tuple[str, bool]]) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": NS,
                         "labels": {"kubernetes.io/service-name": service,
                                    "endpointslice.kubernetes.io/managed-by": "pharos-e2e"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "namespace": NS,
                                         "name": f"{service}-{address.rsplit('.', 1)[1]}"}}
                          for address, ready in endpoints]}


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def service_monitor(name: str, service_name: str) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "http", "frequency": "10s", "timeout": "3s", "regions": [REGION],
                     "target": {"service": {"name": service_name, "port": "http",
                                            "path": "/healthz"}},
                     "alerting": {"failureThreshold": 1, "successThreshold": 1}}}


def label(address: str, port: int) -> str:
    return f"{address}:{port} ({SERVICE}-{address.rsplit('.', 1)[1]})"


# ---------------------------------------------------------------------------------- fixture

@dataclass
class World:
    env: Env
    port: int
    backends: dict[str, Backend]
    operator_pid: int


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("service-endpoints-e2e")
    addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.5", "127.0.0.6"]
    port = free_port_on_every(addresses)
    backends = {a: start_backend(a, port) for a in addresses}
    try:
        with pharos_env(workdir, chart_rbac()) as env:
            op = env.start_operator("op-a", leader_elect=False, regions=False)
            env.start_probe("probe-a", op, REGION)
            yield World(env, port, backends, op.process.popen.pid)
    finally:
        for backend in backends.values():
            backend.server.shutdown()
            backend.server.server_close()


def slice_key(name: str) -> str:
    return f"/registry/endpointslices/{NS}/{name}"


def etcdctl(env: Env, *args: str) -> None:
    r = subprocess.run([str(env.cp.bin_dir / "etcdctl"), "--endpoints", env.cp.etcd_url, *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def put_slice(env: Env, obj: dict) -> None:
    """Creates or replaces an EndpointSlice behind the API server's validation (see above)."""
    name = obj["metadata"]["name"]
    obj = json.loads(json.dumps(obj))
    obj["metadata"]["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, slice_key(name)))
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    etcdctl(env, "put", slice_key(name), json.dumps(obj))
    # Read back through the API server: what the operator's informer gets.
    got = env.kubectl_json("get", "endpointslice", name, "-n", NS)
    assert got["endpoints"] == obj["endpoints"], got


def delete_slice(env: Env, name: str) -> None:
    etcdctl(env, "del", slice_key(name))


def apply(env: Env, *objects: dict) -> None:
    r = env.kubectl("apply", "-f", "-", check=False, input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": list(objects)}))
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------------- tests

def test_every_ready_endpoint_is_checked_and_a_failing_one_is_named_until_it_leaves(world):
    env, port, backends = world.env, world.port, world.backends
    apply(env, service(SERVICE), service("payments"))
    put_slice(env, endpoint_slice("orders-a", SERVICE, port,
                                  [("127.0.0.1", True), ("127.0.0.2", True), ("127.0.0.4", False)]))
    put_slice(env, endpoint_slice("orders-b", SERVICE, port, [("127.0.0.3", True)]))
    # Another Service's endpoint: never checked by this monitor.
    put_slice(env, endpoint_slice("payments-a", "payments", port, [("127.0.0.6", True)]))
    apply(env, service_monitor("orders", SERVICE))

    status = env.wait_status("orders", lambda s: s.get("state") == "Up", what="Up")
    assert status["target"].startswith("service orders"), status
    assert "failingEndpoints" not in status, status

    # Every round checks the three ready endpoints, each with the Service's name as Host. Up
    # with addressQuorum 1 also proves the not-ready 127.0.0.4 is left out (nothing listens
    # there); the other Service's 127.0.0.6 is never asked.
    wait_for(lambda: all(backends[a].hits() >= 2 for a in ("127.0.0.1", "127.0.0.2", "127.0.0.3")),
             timeout=40, message="two rounds on each ready endpoint")
    for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        assert set(backends[address].hosts) == {f"{SERVICE}.{NS}.svc:{port}"}, \
            backends[address].hosts
    assert backends["127.0.0.6"].hits() == 0
    assert env.status("orders").get("state") == "Up"

    # One endpoint fails: the monitor is Down and its status names that endpoint.
    backends["127.0.0.2"].code = 503
    failing = label("127.0.0.2", port)
    status = env.wait_status("orders", lambda s: s.get("state") == "Down", what="Down")
    status = env.wait_status("orders", lambda s: s.get("failingEndpoints") == [failing],
                             what="failingEndpoints names 127.0.0.2")
    [region] = status["regions"]
    assert region["failingEndpoints"] == [failing], region
    assert "127.0.0.2" in region["message"] and "1 of 3 addresses failing" in region["message"], \
        region

    # The failing endpoint leaves the slice (as when its Pod is replaced): the next rounds check
    # the two others and the monitor recovers; nothing was restarted.
    put_slice(env, endpoint_slice("orders-a", SERVICE, port, [("127.0.0.1", True)]))
    status = env.wait_status("orders", lambda s: s.get("state") == "Up", what="Up again")
    assert "failingEndpoints" not in status, status
    assert "failingEndpoints" not in status["regions"][0], status
    assert env.operators["op-a"].process.alive()
    assert env.operators["op-a"].process.popen.pid == world.operator_pid
    # Two more rounds on the endpoints still listed, none on the one that left.
    left = backends["127.0.0.2"].hits()
    kept = {a: backends[a].hits() for a in ("127.0.0.1", "127.0.0.3")}
    wait_for(lambda: all(backends[a].hits() >= n + 2 for a, n in kept.items()), timeout=40,
             message="two more rounds after the update")
    assert backends["127.0.0.2"].hits() == left, "the endpoint that left is no longer checked"

    # An endpoint that comes along is checked from the next round on.
    put_slice(env, endpoint_slice("orders-b", SERVICE, port, [("127.0.0.3", True),
                                                             ("127.0.0.5", True)]))
    wait_for(lambda: backends["127.0.0.5"].hits() > 0, timeout=30,
             message="the new endpoint 127.0.0.5 checked")
    assert env.status("orders").get("state") == "Up"


def test_a_service_without_ready_endpoints_is_down_with_that_reason(world):
    env, port = world.env, world.port
    apply(env, service("idle"))
    put_slice(env, endpoint_slice("idle-a", "idle", port, [("127.0.0.7", False)]))
    apply(env, service_monitor("idle", "idle"))
    status = env.wait_status("idle", lambda s: s.get("state") == "Down", what="Down")
    [region] = status["regions"]
    assert f"Service {NS}/idle has no ready endpoints" in region["message"], status
    assert env.operators["op-a"].process.alive()

    # A ready endpoint arrives: Up, without touching the Monitor.
    put_slice(env, endpoint_slice("idle-a", "idle", port, [("127.0.0.1", True)]))
    env.wait_status("idle", lambda s: s.get("state") == "Up", what="Up once an endpoint is ready")

    # The slice deleted: no ready endpoint again.
    delete_slice(env, "idle-a")
    status = env.wait_status("idle", lambda s: s.get("state") == "Down", what="Down again")
    assert f"Service {NS}/idle has no ready endpoints" in status["regions"][0]["message"], status


def test_no_permission_errors_in_the_operator_log(world):
    log = world.env.operators["op-a"].process.log()
    assert "forbidden" not in log.lower(), log[-4000:]
