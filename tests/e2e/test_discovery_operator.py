"""Discovery in pharos-operator: Monitors for Ingresses and Gateway API HTTPRoutes annotated
`pharos.dev/monitor: "true"`, on a real kube-apiserver + etcd (tests/k8s).

The operator runs as system:serviceaccount:pharos-system:pharos-operator with the chart's RBAC
(deploy/pharos.yaml), so listing Ingresses and HTTPRoutes and writing Monitors is proven to be
granted. The HTTPRoute CRD is the Gateway API's own standard one, from its Go module
(tests/e2e/fixtures/gateway-api.env; scripts/setup puts it in the Go module cache). It is
installed only after the operator started without it: the operator must carry on with Ingresses
and say once that HTTPRoutes are not discovered; a restarted operator then discovers them.

No controller-manager runs (no garbage collector), so a Monitor disappearing with its deleted
Ingress is the operator's own doing. Every wait is a bounded poll (pharos.wait_for).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pharos import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import NS, REPO, Env, chart_rbac, pharos_env  # noqa: E402


MANAGED = {"app.kubernetes.io/managed-by": "pharos-operator"}


def gateway_api_crd() -> Path:
    """The standard HTTPRoute CRD of the pinned Gateway API module, from the Go module cache."""
    pins = dict(line.split("=", 1) for line in
                (REPO / "tests/e2e/fixtures/gateway-api.env").read_text().splitlines()
                if line and not line.startswith("#"))
    module = f"{pins['GATEWAY_API_MODULE']}@{pins['GATEWAY_API_VERSION']}"
    go = "go" if subprocess.run(["which", "go"], capture_output=True).returncode == 0 \
        else "/usr/local/go/bin/go"
    r = subprocess.run([go, "mod", "download", "-json", module], capture_output=True, text=True,
                       cwd="/tmp", env={**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod"})
    if r.returncode != 0:
        pytest.fail(f"{module} is not in the Go module cache: run scripts/setup\n{r.stdout}"
                    f"{r.stderr}", pytrace=False)
    return (Path(json.loads(r.stdout)["Dir"]) / "config/crd/standard"
            / "gateway.networking.k8s.io_httproutes.yaml")


def ingress(name: str, annotations: dict, host: str = "shop.example.com", path: str = "/store",
            tls: bool = False) -> dict:
    spec = {"rules": [{"host": host, "http": {"paths": [
        {"path": path, "pathType": "Prefix",
         "backend": {"service": {"name": "shop", "port": {"number": 80}}}}]}}]}
    if tls:
        spec["tls"] = [{"hosts": [host], "secretName": f"{name}-cert"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations},
            "spec": spec}


def http_route(name: str, annotations: dict, hostname: str = "api.example.com") -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations},
            "spec": {"parentRefs": [{"name": "public"}], "hostnames": [hostname],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                                "backendRefs": [{"name": "api", "port": 8080}]}]}}


@dataclass
class World:
    env: Env
    httproute_crd: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    crd = gateway_api_crd()
    with pharos_env(tmp_path_factory.mktemp("discovery-e2e"), chart_rbac(),
                    binaries=("pharos-operator",)) as env:
        env.start_operator("op-a", leader_elect=False, regions=False)
        yield World(env, crd)


def monitor(env: Env, name: str) -> dict | None:
    return env.monitor_object(name)


def wait_monitor(env: Env, name: str, predicate, what: str) -> dict:
    def check():
        obj = monitor(env, name)
        return obj if obj is not None and predicate(obj) else None
    try:
        return wait_for(check, timeout=30, interval=0.3, message=f"Monitor {name} {what}")
    except TimeoutError as error:
        raise AssertionError(f"{error}\nlast: {json.dumps(monitor(env, name))}\n"
                             f"{env.describe_operators()}") from None


def wait_gone(env: Env, name: str) -> None:
    try:
        wait_for(lambda: monitor(env, name) is None, timeout=30, interval=0.3,
                 message=f"Monitor {name} deleted")
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{env.describe_operators()}") from None


def url_of(obj: dict) -> str:
    return obj["spec"]["http"]["url"]


# ---------------------------------------------------------------------------------- tests

def test_an_annotated_ingress_gets_a_monitor_that_follows_it(world):
    env = world.env
    env.apply(ingress("shop", {"pharos.dev/monitor": "true"}, tls=True))
    obj = wait_monitor(env, "shop-ingress", lambda o: True, "created")
    assert url_of(obj) == "https://shop.example.com/store", obj
    assert obj["spec"]["type"] == "http"
    assert obj["metadata"]["labels"] == {**MANAGED, "pharos.dev/discovered-from": "ingress"}
    source = env.kubectl_json("get", "ingress", "shop", "-n", NS)
    [owner] = obj["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "shop",
                     "uid": source["metadata"]["uid"], "controller": True}, owner
    # The operator reconciles it like any Monitor (a status written).
    env.wait_status("shop-ingress", lambda s: s.get("observedGeneration") == 1, what="observed")

    # Edits: another path, a frequency and an expected status class.
    env.apply(ingress("shop", {"pharos.dev/monitor": "true", "pharos.dev/path": "/healthz",
                               "pharos.dev/frequency": "30s", "pharos.dev/expect-status": "2xx"},
                      tls=True))
    obj = wait_monitor(env, "shop-ingress", lambda o: o["spec"].get("frequency") == "30s",
                       "updated")
    assert url_of(obj) == "https://shop.example.com/healthz"
    assert obj["spec"]["assertions"] == [{"type": "statusCode", "op": "gte", "value": "200"},
                                         {"type": "statusCode", "op": "lt", "value": "300"}]

    # No TLS any more: http. The frequency annotation gone: the CRD's default again.
    env.apply(ingress("shop", {"pharos.dev/monitor": "true"}))
    obj = wait_monitor(env, "shop-ingress", lambda o: url_of(o).startswith("http://"), "http")
    assert url_of(obj) == "http://shop.example.com/store"
    assert obj["spec"]["frequency"] == "1m" and "assertions" not in obj["spec"], obj["spec"]

    # A hand edit of the URL is put back.
    env.kubectl("patch", "monitor", "shop-ingress", "-n", NS, "--type", "merge", "-p",
                json.dumps({"spec": {"http": {"url": "http://elsewhere.example/"}}}))
    wait_monitor(env, "shop-ingress", lambda o: url_of(o) == "http://shop.example.com/store",
                 "put back")

    # The annotation removed: the Monitor goes.
    env.kubectl("annotate", "ingress", "shop", "-n", NS, "pharos.dev/monitor-")
    wait_gone(env, "shop-ingress")


def test_deleting_the_ingress_deletes_its_monitor_and_others_are_left_alone(world):
    env = world.env
    env.apply(ingress("cart", {"pharos.dev/monitor": "true"}, host="cart.example.com"),
              ingress("plain", {}, host="plain.example.com"))
    wait_monitor(env, "cart-ingress", lambda o: url_of(o) == "http://cart.example.com/store",
                 "created")
    # A Monitor of the name discovery would use, made by a user: never touched.
    env.apply({"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
               "metadata": {"name": "mine-ingress", "namespace": NS},
               "spec": {"type": "tcp", "tcp": {"host": "db.example.com", "port": 5432}}})
    env.apply(ingress("mine", {"pharos.dev/monitor": "true"}, host="mine.example.com"))

    env.kubectl("delete", "ingress", "cart", "-n", NS)
    wait_gone(env, "cart-ingress")
    assert monitor(env, "plain-ingress") is None

    env.kubectl("delete", "ingress", "mine", "-n", NS)
    op = env.operators["op-a"].process
    wait_for(lambda: "is not discovery's" in op.log(), timeout=30,
             message="the name clash logged")
    assert monitor(env, "mine-ingress")["spec"]["type"] == "tcp"


def test_httproutes_without_the_crd_are_skipped_then_discovered(world):
    env = world.env
    op = env.operators["op-a"]
    skipped = [line for line in op.process.json_lines()
               if line.get("msg", "").startswith("not discovering HTTPRoutes")]
    assert len(skipped) == 1, skipped
    assert "Gateway API CRDs are not installed" in skipped[0]["reason"], skipped
    assert op.process.alive()

    env.kubectl("apply", "--server-side", "-f", str(world.httproute_crd))
    env.cp.wait_crds_established("httproutes.gateway.networking.k8s.io")
    env.apply(http_route("api", {"pharos.dev/monitor": "true", "pharos.dev/scheme": "https"}))
    # The operator asks again only every minute: a restart picks the CRD up at once.
    op.process.stop()
    env.start_operator("op-b", leader_elect=False, regions=False)

    obj = wait_monitor(env, "api-httproute", lambda o: True, "created")
    assert url_of(obj) == "https://api.example.com/v1", obj
    assert obj["metadata"]["labels"]["pharos.dev/discovered-from"] == "httproute"
    assert obj["metadata"]["ownerReferences"][0]["kind"] == "HTTPRoute"

    env.apply(http_route("api", {"pharos.dev/monitor": "true"}, hostname="api2.example.com"))
    wait_monitor(env, "api-httproute", lambda o: url_of(o) == "http://api2.example.com/v1",
                 "updated")
    env.kubectl("annotate", "httproute", "api", "-n", NS, "pharos.dev/monitor-")
    wait_gone(env, "api-httproute")

    env.apply(http_route("gone", {"pharos.dev/monitor": "true"}, hostname="gone.example.com"))
    wait_monitor(env, "gone-httproute", lambda o: True, "created")
    env.kubectl("delete", "httproute", "gone", "-n", NS)
    wait_gone(env, "gone-httproute")


def test_no_permission_errors_in_the_operator_logs(world):
    for process in world.env.processes:
        assert "forbidden" not in process.log().lower(), process.log()[-4000:]
