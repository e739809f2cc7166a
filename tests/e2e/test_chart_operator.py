"""The Helm chart and pharos-operator agree: what the chart renders, the operator runs.

* The regions ConfigMap the chart renders (several regions, pull secrets, probe arguments,
  priority class) is the --regions-config of a real pharos-operator, started with the arguments
  of the chart's Deployment (leader election included) against a real kube-apiserver + etcd
  (tests/k8s), as the operator identity with exactly the chart's RBAC. The probe DaemonSets
  appear with the chart's names, namespace, labels, service account, security contexts, token
  Secret, node selectors, tolerations and resources; a region removed from the values and
  re-rendered has its DaemonSet deleted.
* Every flag of the rendered Deployment's args, for every value set, is one pharos-operator
  accepts (`pharos-operator ARGS --help` parses them all and exits 0).

Tools: helm, kubectl, etcd, kube-apiserver from tests/k8s/build-tools (PHAROS_K8S_BIN);
pharos-operator from PHAROS_BIN_DIR. Waits are bounded polls; nothing sleeps for synchronisation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

import pharos
from pharos import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_chart import (CHART, FIXTURES, K8S_DIR, NAMESPACE, RELEASE, VALUE_SETS,  # noqa: E402
                        Helm, k8s_bin, one)

sys.path.insert(0, str(K8S_DIR))
from control_plane import ControlPlane  # noqa: E402

PROBE_TOKEN = "chart-operator-e2e-token"
# values-regions.yaml plus the probe settings the operator must carry into every DaemonSet.
PROBE_VALUES = {
    "imagePullSecrets": [{"name": "regcred"}],
    "probeImage": {"repository": "registry.example.com/pharos-probe", "tag": "e2e",
                   "pullPolicy": "Always"},
    "probe": {"metricsPort": 9191, "extraArgs": ["--log-level=debug"],
              "priorityClassName": "pharos-probes"},
}
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"}


class Operator:
    """pharos-operator started by the test in its own session, stopped by PID."""

    def __init__(self, args: List[str], log_path: Path):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


def render(helm: Helm, tmp_path: Path, name: str, values: dict) -> List[dict]:
    path = tmp_path / f"values-{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return helm.template("values-regions.yaml", "-f", str(path))


def regions_yaml(docs: List[dict]) -> str:
    return one(docs, "ConfigMap", f"{RELEASE}-regions")["data"]["regions.yaml"]


def deployment_args(docs: List[dict]) -> List[str]:
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]


def local_args(chart_args: List[str], replacements: Dict[str, str]) -> List[str]:
    """The chart's operator args with the in-pod paths and address replaced by local ones."""
    args = list(chart_args)
    for flag, value in replacements.items():
        assert flag in args, f"the chart's operator args lack {flag}: {args}"
        args[args.index(flag) + 1] = value
    return args


@pytest.fixture(scope="module")
def helm(tmp_path_factory) -> Helm:
    return Helm(k8s_bin(), tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def operator_binary() -> Path:
    return pharos.required_binary("pharos-operator")


# ----------------------------------------------------------------------------- flags

@pytest.mark.parametrize("values", list(VALUE_SETS.values()), ids=list(VALUE_SETS))
def test_every_rendered_operator_flag_is_accepted(helm, operator_binary, values):
    docs = helm.template(values)
    args = deployment_args(docs)
    help_text = subprocess.run([str(operator_binary), "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30).stdout
    flags = [a.split("=", 1)[0] for a in args if a.startswith("--")]
    unknown = [f for f in flags if f"{f} " not in help_text and f"{f}=" not in help_text]
    assert not unknown, f"flags of the chart's Deployment missing from --help: {unknown}"
    # The parser itself takes every flag and value (--help stops before anything starts).
    proc = subprocess.run([str(operator_binary), *args, "--help"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode == 0, f"pharos-operator {' '.join(args)} --help: {proc.stderr}"


# ----------------------------------------------------------------------------- DaemonSets

def test_operator_runs_the_probe_daemonsets_the_chart_configures(helm, operator_binary,
                                                                tmp_path):
    os.environ["PHAROS_K8S_BIN"] = str(k8s_bin())
    docs = render(helm, tmp_path, "probe", PROBE_VALUES)
    config = yaml.safe_load(regions_yaml(docs))
    regions = [r["name"] for r in config["regions"]]
    assert regions == ["eu-west", "us-east", "ap-south-1"]

    regions_file = tmp_path / "regions.yaml"
    regions_file.write_text(regions_yaml(docs))
    token_file = tmp_path / "token"
    token_file.write_text(PROBE_TOKEN + "\n")

    with ControlPlane(tmp_path / "cp") as cp:
        cp.kubectl("apply", "-f", str(CHART / "crds"))
        cp.wait_crds_established(*[path.name.removesuffix(".yaml")
                                   for path in sorted((CHART / "crds").glob("*.yaml"))])
        cp.kubectl("create", "namespace", NAMESPACE)
        # The chart's ServiceAccounts and RBAC; the operator identity of the control plane is
        # system:serviceaccount:pharos-system:pharos-operator, the chart's operator account.
        objects = [d for d in docs if d["kind"] in RBAC_KINDS]
        assert any(d["kind"] == "ServiceAccount" and d["metadata"]["name"] ==
                   f"{RELEASE}-operator" for d in objects)
        cp.kubectl("apply", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        cp.kubectl("-n", NAMESPACE, "create", "secret", "generic", f"{RELEASE}-probe-token",
                   f"--from-literal=token={PROBE_TOKEN}")

        args = local_args(deployment_args(docs), {
            "--listen": "127.0.0.1:0", "--db": str(tmp_path / "pharos.db"),
            "--regions-config": str(regions_file), "--probe-token-file": str(token_file)})
        assert "--leader-elect" in args
        operator = Operator([str(operator_binary), "--kubeconfig", str(cp.kubeconfig_operator),
                             "--identity", "chart-e2e", *args], tmp_path / "operator.log")
        try:
            def daemonsets() -> Dict[str, dict]:
                assert operator.alive(), f"pharos-operator exited:\n{operator.log()[-4000:]}"
                out = cp.kubectl("get", "daemonsets", "-n", NAMESPACE, "-o", "json").stdout
                return {d["metadata"]["name"]: d for d in json.loads(out)["items"]}

            expected = {f"{RELEASE}-probe-{region}" for region in regions}
            wait_for(lambda: set(daemonsets()) == expected, timeout=60, interval=0.2,
                     message=f"DaemonSets {sorted(expected)}")
            current = daemonsets()
            probe = config["probe"]
            for region in config["regions"]:
                check_daemonset(current[f"{RELEASE}-probe-{region['name']}"], config, probe,
                                region)
            us = current[f"{RELEASE}-probe-us-east"]["spec"]["template"]["spec"]
            assert us["nodeSelector"] == {"topology.kubernetes.io/region": "us-east-1",
                                          "node-role.pharos.dev/probe": "true"}
            assert us["tolerations"][0]["value"] == "probes"
            assert us["containers"][0]["resources"]["requests"]["cpu"] == "200m"

            # Remove a region from the values, re-render, hand the operator the new file (what a
            # ConfigMap update does): its DaemonSet goes, the others stay.
            values = yaml.safe_load((FIXTURES / "values-regions.yaml").read_text())
            values["regions"] = [r for r in values["regions"] if r["name"] != "us-east"]
            reduced = tmp_path / "values-reduced.yaml"
            reduced.write_text(yaml.safe_dump(values))
            probe_values = tmp_path / "values-probe.yaml"
            rerendered = helm.template("values-regions.yaml", "-f", str(probe_values),
                                       "-f", str(reduced))
            regions_file.write_text(regions_yaml(rerendered))
            remaining = {f"{RELEASE}-probe-eu-west", f"{RELEASE}-probe-ap-south-1"}
            wait_for(lambda: set(daemonsets()) == remaining, timeout=60, interval=0.2,
                     message=f"only {sorted(remaining)} after us-east was removed")

            denied = [line for line in operator.log().splitlines()
                      if "HTTP 403" in line or "Forbidden" in line]
            assert not denied, "the chart's RBAC refused operator requests:\n" + "\n".join(denied)
        except BaseException:
            print(operator.log()[-6000:])
            raise
        finally:
            operator.stop()


def check_daemonset(ds: dict, config: dict, probe: dict, region: dict) -> None:
    name = region["name"]
    where = f"DaemonSet {ds['metadata']['name']}"
    assert ds["metadata"]["namespace"] == config["namespace"] == NAMESPACE
    labels = dict(probe["labels"], **{config["regionPodLabel"]: name})
    assert labels["app.kubernetes.io/instance"] == RELEASE
    assert ds["spec"]["selector"]["matchLabels"] == labels, where
    for actual in (ds["metadata"]["labels"], ds["spec"]["template"]["metadata"]["labels"]):
        assert labels.items() <= actual.items(), f"{where}: labels {actual}"
        assert actual["app.kubernetes.io/managed-by"] == "pharos-operator", where
    pod = ds["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == probe["serviceAccountName"] == f"{RELEASE}-probe", where
    assert pod["automountServiceAccountToken"] is False, where
    assert pod["imagePullSecrets"] == [{"name": "regcred"}], where
    assert pod["priorityClassName"] == "pharos-probes", where
    assert pod["securityContext"] == probe["podSecurityContext"], where
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["nodeSelector"] == region["nodeSelector"], where
    assert pod.get("tolerations", []) == region["tolerations"], where
    token = pod["volumes"][0]["secret"]
    assert token["secretName"] == probe["tokenSecret"]["name"] == f"{RELEASE}-probe-token"
    assert token["items"] == [{"key": probe["tokenSecret"]["key"], "path": "token"}]
    container = pod["containers"][0]
    assert container["image"] == probe["image"] == "registry.example.com/pharos-probe:e2e"
    assert container["imagePullPolicy"] == "Always"
    assert container["securityContext"] == probe["securityContext"], where
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"] == region["resources"], where
    assert container["ports"][0]["containerPort"] == probe["metricsPort"] == 9191
    assert container["args"] == ["--operator", config["operatorUrl"], "--region", name,
                                 "--token-file", "/etc/pharos/token/token",
                                 "--listen", "0.0.0.0:9191", "--log-level=debug"], where
    assert config["operatorUrl"] == f"http://{RELEASE}.{NAMESPACE}.svc:8080"
