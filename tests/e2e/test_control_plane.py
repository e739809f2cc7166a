"""Smoke test of the real test control plane (tests/k8s): etcd + kube-apiserver.

Starts the pinned, locally built kube-apiserver, talks to it with the pinned
kubectl through all three kubeconfigs, and checks that stop really ends the
processes. No fakes: if the binaries cannot be built, this test fails.
"""

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

K8S_DIR = Path(__file__).resolve().parents[1] / "k8s"
sys.path.insert(0, str(K8S_DIR))

from control_plane import ControlPlane  # noqa: E402


def pinned_kubernetes_version() -> str:
    for line in (K8S_DIR / "versions.env").read_text().splitlines():
        if line.startswith("KUBERNETES_VERSION="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("KUBERNETES_VERSION not found in versions.env")


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    cp = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    with cp:
        yield cp  # stop() again on exit is harmless


def test_server_version_is_the_pin(plane):
    out = json.loads(plane.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == pinned_kubernetes_version()
    assert out["clientVersion"]["gitVersion"] == pinned_kubernetes_version()
    assert out["serverVersion"]["major"] == "1"


def test_admin_token_and_client_cert_can_list_namespaces(plane):
    for kubeconfig in (plane.kubeconfig, plane.kubeconfig_cert):
        names = plane.kubectl("get", "ns", "-o", "name", kubeconfig=kubeconfig).stdout.split()
        assert "namespace/default" in names and "namespace/kube-system" in names


def test_client_cert_kubeconfig_uses_relative_paths(plane, tmp_path):
    text = plane.kubeconfig_cert.read_text()
    assert "client-certificate: pki/admin.crt" in text
    # Run from another folder: the paths must resolve relative to the file.
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        who = plane.kubectl("auth", "whoami", "-o", "json", kubeconfig=plane.kubeconfig_cert)
    finally:
        os.chdir(old)
    user = json.loads(who.stdout)["status"]["userInfo"]
    assert user["username"] == "pharos-admin"
    assert "system:masters" in user["groups"]


def test_operator_user_has_only_rbac_permissions(plane):
    whoami = json.loads(plane.kubectl("auth", "whoami", "-o", "json",
                                      kubeconfig=plane.kubeconfig_operator).stdout)
    assert whoami["status"]["userInfo"]["username"] == \
        "system:serviceaccount:pharos-system:pharos-operator"

    def can_list_pods():
        r = plane.kubectl("auth", "can-i", "list", "pods", "-A",
                          kubeconfig=plane.kubeconfig_operator, check=False)
        return r.stdout.strip()

    assert can_list_pods() == "no"
    denied = plane.kubectl("get", "pods", "-A", kubeconfig=plane.kubeconfig_operator, check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr

    plane.kubectl("create", "clusterrole", "smoke-pod-reader", "--verb=get,list,watch",
                  "--resource=pods")
    plane.kubectl("create", "clusterrolebinding", "smoke-pod-reader",
                  "--clusterrole=smoke-pod-reader",
                  "--user=system:serviceaccount:pharos-system:pharos-operator")
    deadline = time.monotonic() + 10
    while can_list_pods() != "yes" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert can_list_pods() == "yes"
    plane.kubectl("delete", "clusterrolebinding", "smoke-pod-reader")
    plane.kubectl("delete", "clusterrole", "smoke-pod-reader")


def test_restart_apiserver_keeps_url_and_data(plane):
    plane.kubectl("create", "configmap", "survives-restart", "--from-literal=a=b")
    url, old_pid = plane.url, plane.pids["kube-apiserver"]
    plane.restart_apiserver()
    assert plane.url == url
    assert plane.pids["kube-apiserver"] != old_pid and not pid_alive(old_pid)
    got = json.loads(plane.kubectl("get", "configmap", "survives-restart", "-o", "json").stdout)
    assert got["data"] == {"a": "b"}


def api_get(plane, path):
    """GET with the admin token, verifying the serving cert against the test CA."""
    ctx = ssl.create_default_context(cafile=str(plane.ca_file))
    req = urllib.request.Request(plane.url + path,
                                 headers={"Authorization": f"Bearer {plane.admin_token}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_tls_and_bearer_token_from_python(plane):
    status, body = api_get(plane, "/version")
    assert status == 200 and json.loads(body)["gitVersion"] == pinned_kubernetes_version()
    status, body = api_get(plane, "/readyz")
    assert (status, body) == (200, "ok")


def test_compaction_makes_old_resource_versions_gone(tmp_path):
    # With the watch cache on (the default) reads and watches at an old RV are
    # served from the cache; without it they go to etcd, which forgot them.
    with ControlPlane(tmp_path / "cp", apiserver_args=["--watch-cache=false"]) as cp:
        cm = json.loads(cp.kubectl("create", "configmap", "compact-me", "--from-literal=v=0",
                                   "-o", "json").stdout)
        old_rv = cm["metadata"]["resourceVersion"]
        for i in range(1, 4):
            cp.kubectl("patch", "configmap", "compact-me", "--type=merge",
                       "-p", json.dumps({"data": {"v": str(i)}}))
        rev = cp.compact()
        assert rev > int(old_rv)

        base = "/api/v1/namespaces/default/configmaps"
        status, body = api_get(cp, f"{base}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
        assert status == 410, body
        assert json.loads(body)["reason"] == "Expired"

        status, body = api_get(cp, f"{base}?watch=1&resourceVersion={old_rv}&timeoutSeconds=5")
        assert status == 200, body
        event = json.loads(body.splitlines()[0])
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"

        # The flag survives an apiserver restart.
        cp.restart_apiserver()
        status, _ = api_get(cp, f"{base}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
        assert status == 410


def test_controller_manager_and_helm(tmp_path):
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: smoke\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n")
    (chart / "values.yaml").write_text("greeting: hello\n")

    with ControlPlane(tmp_path / "cp", controller_manager=True) as cp:
        assert set(cp.pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert cp.helm("version", "--short").stdout.startswith("v3.")
        cp.kubectl("create", "namespace", "helm-smoke")
        cp.helm("install", "smoke", str(chart), "-n", "helm-smoke", "--set", "greeting=hi")
        got = json.loads(cp.kubectl("get", "configmap", "smoke-cm", "-n", "helm-smoke",
                                    "-o", "json").stdout)
        assert got["data"] == {"greeting": "hi"}
        cp.helm("uninstall", "smoke", "-n", "helm-smoke")

        # Namespace deletion only finishes when the namespace controller runs.
        cp.kubectl("delete", "namespace", "helm-smoke", "--wait=false")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = cp.kubectl("get", "namespace", "helm-smoke", check=False)
            if r.returncode != 0 and "NotFound" in r.stderr:
                break
            time.sleep(0.5)
        else:
            pytest.fail("namespace helm-smoke was not deleted by kube-controller-manager")
        pids = cp.pids
    assert not any(pid_alive(pid) for pid in pids.values())


def test_stop_ends_all_processes(plane):
    """Keep this test last in the file: it stops the module's control plane."""
    pids = plane.pids
    assert set(pids) == {"etcd", "kube-apiserver"}
    assert all(pid_alive(pid) for pid in pids.values())
    plane.stop()
    for name, pid in pids.items():
        assert not pid_alive(pid), f"{name} (pid {pid}) still running after stop"
    assert not plane.is_running()
