"""The Helm chart (charts/pharos) against the real helm and a real kube-apiserver.

* crds/ and charts/pharos/crds/ are identical (the chart ships the source of truth);
* `helm lint --strict` and `helm template` pass for the default values and every value set in
  tests/e2e/fixtures_chart/values-*.yaml, and the rendered objects say what the values ask;
* values.schema.json and the template checks reject bad values with the expected message;
* every rendered manifest is accepted by `kubectl apply --dry-run=server` on a real API server;
* `helm install` + `helm upgrade` on that server keep the generated probe token, and the
  operator's ServiceAccount can do exactly what the operator needs (kubectl auth can-i).

Tools: helm, kubectl, etcd and kube-apiserver built by tests/k8s/build-tools (the test fails,
naming that script, when they are missing).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest
import yaml

REPO = Path(os.environ.get("PHAROS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
CHART = REPO / "charts" / "pharos"
FIXTURES = REPO / "tests" / "e2e" / "fixtures_chart"
K8S_DIR = REPO / "tests" / "k8s"
sys.path.insert(0, str(K8S_DIR))

from control_plane import ControlPlane, require_tools  # noqa: E402

RELEASE = "pharos"
NAMESPACE = "pharos-system"  # the namespace of the control plane's operator identity
VALUE_SETS: Dict[str, Optional[str]] = {
    "default": None,
    "no-monitoring": "values-no-monitoring.yaml",
    "existing-secret": "values-existing-secret.yaml",
    "regions": "values-regions.yaml",
    "monitoring": "values-monitoring.yaml",
    "ha": "values-ha.yaml",
    "status-pages": "values-status-pages.yaml",
}
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


# ----------------------------------------------------------------------------- tools
def k8s_bin() -> Path:
    return require_tools("helm", "kubectl", "kube-apiserver", "etcd")


class Helm:
    """The pinned helm with its state in a private directory."""

    def __init__(self, bin_dir: Path, home: Path):
        self.exe = bin_dir / "helm"
        self.env = dict(os.environ, HELM_CACHE_HOME=str(home / "cache"),
                        HELM_CONFIG_HOME=str(home / "config"), HELM_DATA_HOME=str(home / "data"))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.exe), *map(str, args)], env=self.env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        if check and proc.returncode != 0:
            pytest.fail(f"helm {' '.join(map(str, args))} failed (exit {proc.returncode}):\n"
                        f"{proc.stderr}\n{proc.stdout[-3000:]}", pytrace=False)
        return proc

    def template_text(self, values: Optional[str] = None, *extra: str, namespace: str = NAMESPACE,
                      check: bool = True) -> subprocess.CompletedProcess:
        args = ["template", RELEASE, str(CHART), "--namespace", namespace]
        if values:
            args += ["-f", str(FIXTURES / values)]
        return self.run(*args, *extra, check=check)

    def template(self, values: Optional[str] = None, *extra: str) -> List[dict]:
        return [d for d in yaml.safe_load_all(self.template_text(values, *extra).stdout) if d]


@pytest.fixture(scope="module")
def helm(tmp_path_factory) -> Helm:
    return Helm(k8s_bin(), tmp_path_factory.mktemp("helm-home"))


def find(docs: Sequence[dict], kind: str, name: Optional[str] = None) -> List[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: Sequence[dict], kind: str, name: Optional[str] = None) -> dict:
    found = find(docs, kind, name)
    names = [d["metadata"]["name"] for d in found]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {names}"
    return found[0]


def operator_container(docs: Sequence[dict]) -> dict:
    deployment = one(docs, "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def regions_config(docs: Sequence[dict]) -> dict:
    cm = one(docs, "ConfigMap", f"{RELEASE}-regions")
    return yaml.safe_load(cm["data"]["regions.yaml"])


def rules_as_set(rules: List[dict]) -> set:
    return {(tuple(sorted(r.get("apiGroups", []))), tuple(sorted(r.get("resources", []))),
             tuple(sorted(r.get("verbs", []))), tuple(sorted(r.get("resourceNames", []))))
            for r in rules}


def expected_args(namespace: str = "", log_format: str = "json",
                  status_interval: str = "30s") -> List[str]:
    return ["--namespace", namespace, "--listen", "0.0.0.0:8080", "--db", "/var/lib/pharos/pharos.db",
            "--leader-elect", "--leader-election-namespace", NAMESPACE,
            "--regions-config", "/etc/pharos/regions.yaml",
            "--probe-token-file", "/etc/pharos/token/token",
            "--status-interval", status_interval, "--log-format", log_format]


# ----------------------------------------------------------------------------- static checks
def test_chart_crds_identical_to_crds_dir():
    source = {p.name: p.read_bytes() for p in (REPO / "crds").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert source, "crds/ holds no CRD"
    assert sorted(source) == sorted(shipped), (
        f"crds/ has {sorted(source)} but charts/pharos/crds/ has {sorted(shipped)}: "
        f"copy crds/*.yaml into the chart")
    drifted = [name for name in source if source[name] != shipped[name]]
    assert not drifted, (f"charts/pharos/crds/ differs from crds/ for {drifted}: "
                         f"cp crds/*.yaml charts/pharos/crds/")


@pytest.mark.parametrize("values", list(VALUE_SETS.values()), ids=list(VALUE_SETS))
def test_helm_lint(helm, values):
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    if values:
        args += ["-f", str(FIXTURES / values)]
    out = helm.run(*args).stdout
    assert "0 chart(s) failed" in out, out


@pytest.mark.parametrize("values", list(VALUE_SETS.values()), ids=list(VALUE_SETS))
def test_template_renders_well_formed_objects(helm, values):
    docs = helm.template(values, "--include-crds")
    kinds = {d["kind"] for d in docs}
    for required in ["CustomResourceDefinition", "Deployment", "Service", "ConfigMap", "Role",
                     "RoleBinding", "Pod"]:
        assert required in kinds, f"{required} missing from the rendered chart ({values})"
    for d in docs:
        name = d["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name) and len(name) <= 63, name
        if d["kind"] != "CustomResourceDefinition":
            assert d["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE, name
            assert d["metadata"]["labels"]["app.kubernetes.io/name"] == "pharos", name
    crds = {d["metadata"]["name"]: d for d in find(docs, "CustomResourceDefinition")}
    expected = {path.name.removesuffix(".yaml"): yaml.safe_load(path.read_text())
                for path in (REPO / "crds").glob("*.yaml")}
    assert crds == expected, "charts/pharos/crds drifted from crds/"


def test_default_values(helm):
    docs = helm.template()
    assert not [d for d in docs if d["kind"] in MONITORING_KINDS], \
        "monitoring objects must be off by default"
    assert not find(docs, "NetworkPolicy"), "NetworkPolicy must be off by default"
    assert not [d for d in find(docs, "ConfigMap") if "grafana_dashboard" in d["metadata"]["labels"]]

    deployment = one(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    container = operator_container(docs)
    assert container["args"] == expected_args(), container["args"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert container["image"] == f"ghcr.io/pharos-dev/pharos-operator:{chart['appVersion']}"
    assert pod["serviceAccountName"] == f"{RELEASE}-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/var/lib/pharos", "/tmp", "/etc/pharos/regions.yaml", "/etc/pharos/token"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-data"
    assert volumes["probe-token"]["secret"] == {"secretName": f"{RELEASE}-probe-token",
                                                "items": [{"key": "token", "path": "token"}]}

    pvc = one(docs, "PersistentVolumeClaim", f"{RELEASE}-data")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"] and "storageClassName" not in pvc["spec"]
    service = one(docs, "Service", RELEASE)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1

    secret = one(docs, "Secret", f"{RELEASE}-probe-token")
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", token), "the generated probe token is 32 alphanumerics"

    # Least privilege: exactly these rules.
    cluster_role = one(docs, "ClusterRole", f"{RELEASE}-monitors")
    assert rules_as_set(cluster_role["rules"]) == {
        (("pharos.dev",), ("monitors",), ("get", "list", "watch"), ()),
        (("pharos.dev",), ("monitors/status",), ("patch",), ()),
        (("",), ("events",), ("create", "patch"), ()),
        (("pharos.dev",), ("incidents",), ("create", "get", "list", "watch"), ()),
        (("pharos.dev",), ("incidents/status",), ("patch",), ()),
        (("pharos.dev",), ("alertchannels", "maintenancewindows"), ("list", "watch"), ()),
        (("pharos.dev",), ("alertchannels/status",), ("patch",), ()),
        (("pharos.dev",), ("statuspages",), ("list", "watch"), ()),
        (("pharos.dev",), ("statuspages/status",), ("patch",), ()),
        (("discovery.k8s.io",), ("endpointslices",), ("list", "watch"), ()),
        (("networking.k8s.io",), ("ingresses",), ("list", "watch"), ()),
        (("gateway.networking.k8s.io",), ("httproutes",), ("list", "watch"), ()),
        (("pharos.dev",), ("monitors",), ("create", "delete", "update"), ()),
    }
    assert "--no-discovery" not in operator_container(docs)["args"]
    # discovery.enabled=false: no discovery RBAC, and the operator is told so.
    quiet = helm.template(None, "--set", "discovery.enabled=false")
    quiet_rules = rules_as_set(one(quiet, "ClusterRole", f"{RELEASE}-monitors")["rules"])
    assert not any(resources in {("ingresses",), ("httproutes",)} or
                   (resources == ("monitors",) and "create" in verbs)
                   for _, resources, verbs, _ in quiet_rules), quiet_rules
    assert "--no-discovery" in operator_container(quiet)["args"]
    # AlertChannel and StatusPage Secrets: none by default; exactly the names listed.
    named = helm.template(None, "--set", "alerting.secretNames={hooks,smtp}")
    assert (("",), ("secrets",), ("get",), ("hooks", "smtp")) in rules_as_set(
        one(named, "ClusterRole", f"{RELEASE}-monitors")["rules"])
    named = helm.template(None, "--set", "alerting.secretNames={hooks,smtp}",
                          "--set", "statusPages.secretNames={page-password,smtp}")
    assert (("",), ("secrets",), ("get",), ("hooks", "page-password", "smtp")) in rules_as_set(
        one(named, "ClusterRole", f"{RELEASE}-monitors")["rules"])
    role = one(docs, "Role", f"{RELEASE}-operator")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert rules_as_set(role["rules"]) == {
        (("coordination.k8s.io",), ("leases",), ("create", "get", "update"), ()),
        (("apps",), ("daemonsets",), ("create", "delete", "list", "patch"), ()),
        (("",), ("secrets",), ("get",), (f"{RELEASE}-probe-token",)),
    }
    for binding in [one(docs, "ClusterRoleBinding"), one(docs, "RoleBinding")]:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{RELEASE}-operator",
                                        "namespace": NAMESPACE}]
    probe_sa = one(docs, "ServiceAccount", f"{RELEASE}-probe")
    assert probe_sa["automountServiceAccountToken"] is False

    config = regions_config(docs)
    assert config["regions"] == [] and config["namespace"] == NAMESPACE
    assert config["operatorUrl"] == f"http://{RELEASE}.{NAMESPACE}.svc:8080"
    assert config["probe"]["tokenSecret"] == {"name": f"{RELEASE}-probe-token", "key": "token"}
    assert config["probe"]["image"] == f"ghcr.io/pharos-dev/pharos-probe:{chart['appVersion']}"
    assert config["probe"]["labels"]["app.kubernetes.io/component"] == "probe"

    test_pod = one(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["containers"][0]["command"][-1] == \
        f"http://{RELEASE}.{NAMESPACE}.svc:8080/readyz"


def test_no_monitoring_values(helm):
    docs = helm.template("values-no-monitoring.yaml")
    assert not [d for d in docs if d["kind"] in MONITORING_KINDS]
    assert not [d for d in find(docs, "ConfigMap") if "grafana_dashboard" in d["metadata"]["labels"]]
    assert not find(docs, "PodDisruptionBudget") and not find(docs, "PersistentVolumeClaim")
    assert not find(docs, "ClusterRole") and not find(docs, "ClusterRoleBinding")
    monitors_role = one(docs, "Role", f"{RELEASE}-monitors")
    assert monitors_role["metadata"]["namespace"] == "shop"
    assert one(docs, "RoleBinding", f"{RELEASE}-monitors")["metadata"]["namespace"] == "shop"
    container = operator_container(docs)
    assert container["args"] == expected_args(namespace="shop", log_format="text")
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_existing_secret_values(helm):
    docs = helm.template("values-existing-secret.yaml")
    assert not find(docs, "Secret"), "an existing probe token Secret must not be rendered"
    assert not find(docs, "PersistentVolumeClaim"), "an existing claim must not be rendered"
    assert not find(docs, "ServiceAccount")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["probe-token"]["secret"] == {"secretName": "pharos-probe-credentials",
                                                "items": [{"key": "probe-token", "path": "token"}]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "pharos-history"
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["serviceAccountName"] == "pharos-custom-sa"
    container = pod["containers"][0]
    assert container["image"] == "registry.example.com/pharos/pharos-operator:0.1.0-rc1"
    assert container["imagePullPolicy"] == "Always"
    secret_rules = [r for r in one(docs, "Role", f"{RELEASE}-operator")["rules"]
                    if "secrets" in r["resources"]]
    assert secret_rules == [{"apiGroups": [""], "resources": ["secrets"],
                             "resourceNames": ["pharos-probe-credentials"], "verbs": ["get"]}]
    for binding in find(docs, "RoleBinding") + find(docs, "ClusterRoleBinding"):
        assert binding["subjects"][0]["name"] == "pharos-custom-sa"
    config = regions_config(docs)
    assert config["probe"]["tokenSecret"] == {"name": "pharos-probe-credentials", "key": "probe-token"}
    assert config["probe"]["serviceAccountName"] == "pharos-custom-probe-sa"
    assert config["probe"]["image"] == "registry.example.com/pharos/pharos-probe:0.1.0-rc1"
    assert config["probe"]["imagePullSecrets"] == [{"name": "registry-credentials"}]


def test_regions_values(helm):
    docs = helm.template("values-regions.yaml")
    config = regions_config(docs)
    regions = {r["name"]: r for r in config["regions"]}
    assert list(regions) == ["eu-west", "us-east", "ap-south-1"]
    assert regions["eu-west"]["nodeSelector"] == {"topology.kubernetes.io/region": "eu-west"}
    assert regions["us-east"]["nodeSelector"] == {"topology.kubernetes.io/region": "us-east-1",
                                                  "node-role.pharos.dev/probe": "true"}
    assert regions["us-east"]["tolerations"][0]["value"] == "probes"
    assert regions["us-east"]["resources"]["requests"]["cpu"] == "200m"
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["probe"]["resources"]
    assert regions["ap-south-1"]["resources"] == defaults
    assert regions["ap-south-1"]["nodeSelector"] == {"example.com/zone-group": "ap-south"}
    assert config["namePrefix"] == f"{RELEASE}-probe" and config["regionPodLabel"] == "pharos.dev/region"

    container = operator_container(docs)
    assert container["args"] == expected_args(status_interval="1m") + ["--log-level=debug"]
    assert {"name": "TZ", "value": "UTC"} in container["env"]
    pvc = one(docs, "PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == "fast-ssd"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] and pod["affinity"]

    # A region change restarts the operator (checksum of the regions ConfigMap).
    def checksum(rendered):
        return one(rendered, "Deployment")["spec"]["template"]["metadata"]["annotations"][
            "checksum/regions"]

    before = checksum(docs)
    changed = helm.template("values-regions.yaml", "--set", "regions[0].name=eu-central")
    assert before != checksum(changed)


def test_probe_icmp_values(helm):
    """ICMP: by default datagram sockets allowed by the ping_group_range sysctl and no extra
    capability; rawSockets adds NET_RAW (only that) to the probe container, run as root."""
    probe = regions_config(helm.template(None))["probe"]
    assert probe["podSecurityContext"]["sysctls"] == [
        {"name": "net.ipv4.ping_group_range", "value": "0 2147483647"}]
    assert probe["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert probe["securityContext"]["runAsNonRoot"] is True

    raw = regions_config(helm.template(None, "--set", "probe.icmp.rawSockets=true"))["probe"]
    assert raw["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW"]}
    assert raw["securityContext"]["runAsUser"] == 0
    assert raw["securityContext"]["allowPrivilegeEscalation"] is False
    assert raw["securityContext"]["readOnlyRootFilesystem"] is True
    assert "sysctls" not in raw["podSecurityContext"]

    unset = regions_config(helm.template(None, "--set", "probe.icmp.pingGroupRange="))["probe"]
    assert "sysctls" not in unset["podSecurityContext"]
    assert unset["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # The operator's own securityContext is never widened.
    for docs in (helm.template(None), helm.template(None, "--set", "probe.icmp.rawSockets=true")):
        assert operator_container(docs)["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_probe_screenshots_values(helm):
    """probe.screenshots.enabled adds the screenshot sidecar to the regions config the operator
    builds the probe DaemonSets from (image, loopback port, timeout, resources) and gives the
    operator the same capture timeout; off by default."""
    docs = helm.template(None)
    assert "screenshots" not in regions_config(docs)["probe"]
    assert "--screenshot-timeout" not in operator_container(docs)["args"]

    docs = helm.template(None, "--set", "probe.screenshots.enabled=true",
                         "--set", "probe.screenshots.timeout=20s",
                         "--set", "probe.screenshots.image.tag=1.2.3")
    sidecar = regions_config(docs)["probe"]["screenshots"]
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["probe"]["screenshots"]
    assert sidecar == {"enabled": True, "image": "ghcr.io/pharos-dev/pharos-probe-chromium:1.2.3",
                       "port": 9555, "timeout": "20s", "resources": defaults["resources"]}
    assert sidecar["resources"]["limits"]["memory"] == "1Gi"
    args = operator_container(docs)["args"]
    assert args[args.index("--screenshot-timeout") + 1] == "20s"
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    untagged = regions_config(helm.template(None, "--set", "probe.screenshots.enabled=true"))
    assert untagged["probe"]["screenshots"]["image"].endswith(f":{app_version}")


def test_monitoring_values(helm):
    docs = helm.template("values-monitoring.yaml")
    service_monitor = one(docs, "ServiceMonitor")
    assert service_monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoint = service_monitor["spec"]["endpoints"][0]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("http", "/metrics", "15s")
    assert endpoint["honorLabels"] is True, "metrics carry their own namespace label"
    service = one(docs, "Service")
    selector = service_monitor["spec"]["selector"]["matchLabels"]
    assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
    assert service_monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}

    pod_monitor = one(docs, "PodMonitor")
    assert pod_monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "probe"
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    probe_labels = regions_config(docs)["probe"]["labels"]
    assert pod_monitor["spec"]["selector"]["matchLabels"] == probe_labels, \
        "the PodMonitor must select the labels the operator puts on probe pods"

    rule = one(docs, "PrometheusRule")
    source = (CHART / "files" / "rules" / "pharos-alerts.yaml").read_text()
    expected = yaml.safe_load(source.replace(
        "https://github.com/pharos-dev/pharos/blob/main/docs/alerts.md",
        "https://runbooks.example.com/pharos/alerts.md"))
    assert rule["spec"]["groups"] == expected["groups"]
    urls = [r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert urls and all(u.startswith("https://runbooks.example.com/pharos/alerts.md#") for u in urls)

    dashboards = [d for d in find(docs, "ConfigMap")
                  if d["metadata"]["labels"].get("grafana_dashboard") == "1"]
    files = sorted((CHART / "files" / "dashboards").glob("*.json"))
    assert len(dashboards) == len(files) == 3
    for cm in dashboards:
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "Pharos"}
        (name, text), = cm["data"].items()
        assert json.loads(text) == json.loads((CHART / "files" / "dashboards" / name).read_text())

    policy = one(docs, "NetworkPolicy")
    rule_ = policy["spec"]["ingress"][0]
    assert rule_["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}}} in rule_["from"]
    monitoring_ns = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    assert {"namespaceSelector": monitoring_ns} in rule_["from"]


def test_ha_values(helm):
    docs = helm.template("values-ha.yaml")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    container = operator_container(docs)
    assert container["args"] == expected_args() + [
        "--clickhouse-url", "http://clickhouse.analytics:8123", "--clickhouse-database", "pharos",
        "--clickhouse-user", "pharos"]
    password = {"secretKeyRef": {"name": "clickhouse-credentials", "key": "password"}}
    assert {"name": "PHAROS_CLICKHOUSE_PASSWORD", "valueFrom": password} in container["env"]
    assert not find(docs, "PersistentVolumeClaim")
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1, "selector": deployment["spec"]["selector"]}


BAD_VALUES = [
    # (id, values, expected substrings of helm's error)
    ("replicas-without-clickhouse", {"replicaCount": 2},
     ["at '/history/clickhouse/enabled': value must be true"]),
    ("replicas-with-sqlite-volume",
     {"replicaCount": 3, "history": {"clickhouse": {"enabled": True, "url": "http://ch:8123"}}},
     ["at '/persistence/enabled': value must be false"]),
    ("region-name-not-dns-label", {"regions": [{"name": "EU_West"}]},
     ["at '/regions/0/name': 'EU_West' does not match pattern"]),
    ("region-without-name", {"regions": [{"nodeSelector": {"zone": "a"}}]},
     ["at '/regions/0': missing property 'name'"]),
    ("icmp-ping-group-range", {"probe": {"icmp": {"pingGroupRange": "all"}}},
     ["at '/probe/icmp/pingGroupRange': 'all' does not match pattern"]),
    ("discovery-wrong-type", {"discovery": {"enabled": "yes"}},
     ["at '/discovery/enabled': got string, want boolean"]),
    ("replicas-wrong-type", {"replicaCount": "two"}, ["at '/replicaCount': got string, want integer"]),
    ("replicas-zero", {"replicaCount": 0}, ["at '/replicaCount': minimum: got 0, want 1"]),
    ("persistence-wrong-type", {"persistence": {"enabled": "yes"}},
     ["at '/persistence/enabled': got string, want boolean"]),
    ("regions-wrong-type", {"regions": "eu-west"}, ["at '/regions': got string, want array"]),
    ("log-format-enum", {"logFormat": "xml"}, ["at '/logFormat': value must be one of 'json', 'text'"]),
    ("port-range", {"service": {"port": 70000}}, ["at '/service/port': maximum"]),
    ("status-interval-pattern", {"statusInterval": "30 seconds"},
     ["at '/statusInterval': '30 seconds' does not match pattern"]),
    ("misspelt-key", {"replicas": 2}, ["additional properties 'replicas' not allowed"]),
    # Checks done by the templates (`fail`), beyond what the schema can express.
    ("duplicate-region", {"regions": [{"name": "eu-west"}, {"name": "eu-west"}]},
     ['regions[1].name "eu-west" is used twice: region names must be unique']),
    ("clickhouse-without-url", {"history": {"clickhouse": {"enabled": True}}},
     ["history.clickhouse.enabled=true needs history.clickhouse.url"]),
    ("pdb-without-bounds", {"podDisruptionBudget": {"maxUnavailable": None}},
     ["podDisruptionBudget.enabled=true needs maxUnavailable or minAvailable"]),
]


@pytest.mark.parametrize("values,expected", [(v, e) for _, v, e in BAD_VALUES],
                         ids=[i for i, _, _ in BAD_VALUES])
def test_bad_values_rejected(helm, tmp_path, values, expected):
    path = tmp_path / "bad-values.yaml"
    path.write_text(yaml.safe_dump(values))
    proc = helm.run("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "-f", str(path),
                    check=False)
    assert proc.returncode != 0, f"helm accepted bad values {values}:\n{proc.stdout[:2000]}"
    for text in expected:
        assert text in proc.stderr, f"expected {text!r} in helm's error:\n{proc.stderr}"


def test_good_ha_values_accepted_by_schema(helm, tmp_path):
    """The replicas rule is conditional: with ClickHouse and no SQLite volume 3 replicas are fine."""
    path = tmp_path / "values.yaml"
    clickhouse = {"enabled": True, "url": "http://ch:8123"}
    path.write_text(yaml.safe_dump({"replicaCount": 3, "persistence": {"enabled": False},
                                    "history": {"clickhouse": clickhouse}}))
    docs = helm.template(None, "-f", str(path))
    assert one(docs, "Deployment")["spec"]["replicas"] == 3


def test_status_pages_values(helm):
    """The Ingress routes only the public status-page paths to the operator's Service; password
    Secrets join the AlertChannel ones in one by-name rule; proxies become --trusted-proxies."""
    assert not find(helm.template(None), "Ingress"), "the Ingress is off by default"
    docs = helm.template("values-status-pages.yaml")
    ingress = one(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert ingress["spec"]["tls"] == [{"secretName": "status-example-com-tls",
                                       "hosts": ["status.example.com"]}]
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "status.example.com"
    service = one(docs, "Service")
    paths = rule["http"]["paths"]
    assert [p["path"] for p in paths] == ["/status", "/assets", "/badge", "/api/v1/status",
                                          "/api/v1/screenshots"]
    for path in paths:
        assert path["pathType"] == "Prefix"
        assert path["backend"] == {"service": {"name": service["metadata"]["name"],
                                               "port": {"number": 8080}}}
    rules = rules_as_set(one(docs, "ClusterRole", f"{RELEASE}-monitors")["rules"])
    assert (("",), ("secrets",), ("get",), ("hooks", "status-password")) in rules
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--trusted-proxies") + 1] == "10.244.0.0/16,192.168.0.0/24"


# ----------------------------------------------------------------------------- real API server
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    bin_dir = k8s_bin()
    os.environ["PHAROS_K8S_BIN"] = str(bin_dir)  # control-plane uses these, no build step
    with ControlPlane(tmp_path_factory.mktemp("cp")) as cp:
        for ns in [NAMESPACE, "shop", "monitoring"]:
            cp.kubectl("create", "namespace", ns)
        cp.kubectl("apply", "-f", str(FIXTURES / "monitoring-crds.yaml"))
        cp.wait_crds_established("servicemonitors.monitoring.coreos.com",
                                 "podmonitors.monitoring.coreos.com",
                                 "prometheusrules.monitoring.coreos.com")
        yield cp


@pytest.mark.parametrize("values", list(VALUE_SETS.values()), ids=list(VALUE_SETS))
def test_server_side_dry_run(helm, cluster, tmp_path, values):
    """Every rendered object (CRD included) passes the real API server's validation."""
    text = helm.template_text(values, "--include-crds").stdout
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(text)
    proc = cluster.kubectl("apply", "--dry-run=server", "-f", str(manifest), check=False)
    assert proc.returncode == 0, \
        f"API server rejected the chart rendered with {values or 'defaults'}:\n{proc.stderr}"
    applied = [line for line in proc.stdout.splitlines() if "(server dry run)" in line]
    expected = [d for d in yaml.safe_load_all(text) if d]
    assert len(applied) == len(expected), proc.stdout


def test_plain_manifests_are_generated_from_the_chart(helm):
    proc = subprocess.run([str(REPO / "deploy" / "generate.sh")],
                          env=dict(os.environ, HELM=str(helm.exe)), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (REPO / "deploy" / "pharos.yaml").read_text(), (
        "deploy/pharos.yaml is stale: run deploy/generate.sh > deploy/pharos.yaml")
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert not find(docs, "Secret") and not find(docs, "Pod"), "no token Secret, no helm test Pod"
    assert one(docs, "Namespace")["metadata"]["name"] == NAMESPACE


def test_plain_manifests_server_side_dry_run(cluster):
    proc = cluster.kubectl("apply", "--dry-run=server", "-f", str(REPO / "deploy" / "pharos.yaml"),
                           check=False)
    assert proc.returncode == 0, proc.stderr


def can_i(cluster, verb: str, resource: str, namespace: Optional[str] = None,
          as_user: Optional[str] = None) -> bool:
    """kubectl auth can-i; `resource` is TYPE, TYPE/NAME, or TYPE:SUBRESOURCE."""
    resource, _, subresource = resource.partition(":")
    args = ["auth", "can-i", verb, resource]
    if subresource:
        args += ["--subresource", subresource]
    args += ["--namespace", namespace] if namespace else ["--all-namespaces"]
    if as_user:
        args += ["--as", as_user]
    kubeconfig = None if as_user else cluster.kubeconfig_operator
    proc = cluster.kubectl(*args, kubeconfig=kubeconfig, check=False)
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return answer == "yes"


def helm_on(cluster, helm: Helm, *args: str) -> subprocess.CompletedProcess:
    return helm.run("--kubeconfig", str(cluster.kubeconfig), *args)


def test_install_upgrade_keeps_token_and_grants_least_privilege(helm, cluster):
    installed = helm_on(cluster, helm, "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
                        "-f", str(FIXTURES / "values-regions.yaml")).stdout
    try:
        # NOTES.txt: first Monitor, kubectl get mon, the status page, the regions.
        for text in ["kind: Monitor", "kubectl get mon -A", f"port-forward svc/{RELEASE} 8080:8080",
                     "Probe regions: eu-west, us-east, ap-south-1.", f"helm test {RELEASE}"]:
            assert text in installed, f"NOTES lack {text!r}:\n{installed}"
        def token() -> str:
            out = cluster.kubectl("get", "secret", f"{RELEASE}-probe-token", "-n", NAMESPACE,
                                  "-o", "jsonpath={.data.token}").stdout
            return base64.b64decode(out).decode()

        first = token()
        assert re.fullmatch(r"[A-Za-z0-9]{32}", first)
        helm_on(cluster, helm, "upgrade", RELEASE, str(CHART), "--namespace", NAMESPACE,
                "-f", str(FIXTURES / "values-regions.yaml"), "--set", "statusInterval=45s")
        assert token() == first, "helm upgrade must keep the generated probe token"
        args = json.loads(cluster.kubectl("get", "deployment", RELEASE, "-n", NAMESPACE, "-o",
                                          "jsonpath={.spec.template.spec.containers[0].args}").stdout)
        assert args[args.index("--status-interval") + 1] == "45s", "the upgrade was applied"

        # The control plane's operator identity is
        # system:serviceaccount:pharos-system:pharos-operator, the ServiceAccount this release created: check what it may and may not do.
        # Exactly the (resource, verb) pairs the operator's code uses (docs/install.md#permissions):
        # each allowed one is needed, each denied one is a neighbour that is not.
        allowed = [
            ("list", "monitors.pharos.dev", None), ("watch", "monitors.pharos.dev", None),
            ("get", "monitors.pharos.dev", "shop"), ("patch", "monitors.pharos.dev:status", "shop"),
            ("create", "events", "shop"), ("patch", "events", "shop"),
            ("get", "leases.coordination.k8s.io", NAMESPACE),
            ("create", "leases.coordination.k8s.io", NAMESPACE),
            ("update", "leases.coordination.k8s.io", NAMESPACE),
            ("create", "daemonsets.apps", NAMESPACE), ("list", "daemonsets.apps", NAMESPACE),
            ("patch", "daemonsets.apps", NAMESPACE), ("delete", "daemonsets.apps", NAMESPACE),
            ("get", f"secrets/{RELEASE}-probe-token", NAMESPACE),
            ("list", "incidents.pharos.dev", None), ("watch", "incidents.pharos.dev", None),
            ("get", "incidents.pharos.dev", "shop"), ("create", "incidents.pharos.dev", "shop"),
            ("patch", "incidents.pharos.dev:status", "shop"),
            ("list", "alertchannels.pharos.dev", None), ("watch", "alertchannels.pharos.dev", None),
            ("patch", "alertchannels.pharos.dev:status", "shop"),
            ("list", "maintenancewindows.pharos.dev", None),
            ("watch", "maintenancewindows.pharos.dev", None),
            ("list", "statuspages.pharos.dev", None), ("watch", "statuspages.pharos.dev", None),
            ("patch", "statuspages.pharos.dev:status", "shop"),
            ("list", "endpointslices.discovery.k8s.io", None),
            ("watch", "endpointslices.discovery.k8s.io", None),
            # Discovery (discovery.enabled, the default): annotated Ingresses (and HTTPRoutes,
            # whose CRD this cluster lacks, so kubectl cannot ask: test_default_values checks
            # that rule), and the Monitors made for them.
            ("list", "ingresses.networking.k8s.io", None),
            ("watch", "ingresses.networking.k8s.io", None),
            ("create", "monitors.pharos.dev", "shop"), ("update", "monitors.pharos.dev", "shop"),
            ("delete", "monitors.pharos.dev", "shop"),
        ]
        denied = [
            ("patch", "monitors.pharos.dev", "shop"),
            ("deletecollection", "monitors.pharos.dev", "shop"),
            ("get", "ingresses.networking.k8s.io", "shop"),
            ("update", "ingresses.networking.k8s.io", "shop"),
            ("get", "monitors.pharos.dev:status", "shop"),
            ("update", "monitors.pharos.dev:status", "shop"),
            ("delete", "events", "shop"), ("update", "events", "shop"),
            ("create", "events.events.k8s.io", "shop"), ("patch", "events.events.k8s.io", "shop"),
            ("delete", "leases.coordination.k8s.io", NAMESPACE),
            ("list", "leases.coordination.k8s.io", NAMESPACE),
            ("watch", "leases.coordination.k8s.io", NAMESPACE),
            ("patch", "leases.coordination.k8s.io", NAMESPACE),
            ("create", "leases.coordination.k8s.io", "shop"),
            ("get", "daemonsets.apps", NAMESPACE), ("watch", "daemonsets.apps", NAMESPACE),
            ("update", "daemonsets.apps", NAMESPACE),
            ("deletecollection", "daemonsets.apps", NAMESPACE),
            ("patch", "daemonsets.apps", "shop"), ("list", "daemonsets.apps", "shop"),
            ("list", "secrets", NAMESPACE), ("get", "secrets/other", NAMESPACE),
            ("get", f"secrets/{RELEASE}-probe-token", "shop"), ("create", "pods", NAMESPACE),
            ("create", "deployments.apps", NAMESPACE), ("get", "configmaps", NAMESPACE),
            ("update", "secrets", NAMESPACE),
            ("delete", "incidents.pharos.dev", "shop"), ("update", "incidents.pharos.dev", "shop"),
            ("patch", "incidents.pharos.dev", "shop"),
            ("create", "alertchannels.pharos.dev", "shop"),
            ("patch", "alertchannels.pharos.dev", "shop"),
            ("get", "alertchannels.pharos.dev", "shop"),
            ("create", "maintenancewindows.pharos.dev", "shop"),
            ("create", "statuspages.pharos.dev", "shop"),
            ("patch", "statuspages.pharos.dev", "shop"),
            ("get", "secrets", "shop"),  # AlertChannel secrets only by name (alerting.secretNames)
            ("get", "endpointslices.discovery.k8s.io", "shop"),
            ("create", "endpointslices.discovery.k8s.io", "shop"),
            ("update", "endpointslices.discovery.k8s.io", "shop"),
            ("list", "services", "shop"), ("list", "endpoints", "shop"),
        ]
        wrong = [f"{v} {r} in {n or 'all namespaces'} should be {'allowed' if want else 'denied'}"
                 for want, table in [(True, allowed), (False, denied)]
                 for v, r, n in table if can_i(cluster, v, r, n) != want]
        assert not wrong, "operator RBAC:\n" + "\n".join(wrong)
    finally:
        helm_on(cluster, helm, "uninstall", RELEASE, "--namespace", NAMESPACE)


def test_watch_namespace_limits_rbac_to_that_namespace(helm, cluster):
    helm_on(cluster, helm, "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "-f", str(FIXTURES / "values-no-monitoring.yaml"))
    try:
        sa = f"system:serviceaccount:{NAMESPACE}:{RELEASE}-operator"
        assert can_i(cluster, "list", "monitors.pharos.dev", "shop", as_user=sa)
        assert can_i(cluster, "patch", "monitors.pharos.dev:status", "shop", as_user=sa)
        assert can_i(cluster, "create", "events", "shop", as_user=sa)
        assert not can_i(cluster, "list", "monitors.pharos.dev", None, as_user=sa)
        assert not can_i(cluster, "list", "monitors.pharos.dev", "default", as_user=sa)
        assert not can_i(cluster, "create", "events", "default", as_user=sa)
        assert can_i(cluster, "update", "leases.coordination.k8s.io", NAMESPACE, as_user=sa)
    finally:
        helm_on(cluster, helm, "uninstall", RELEASE, "--namespace", NAMESPACE)


def test_install_with_existing_secret_renders_no_secret(helm, cluster):
    """With probeToken.existingSecret the release owns no Secret and reads the one given."""
    cluster.kubectl("create", "secret", "generic", "pharos-probe-credentials", "-n", NAMESPACE,
                    "--from-literal=probe-token=abc")
    helm_on(cluster, helm, "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
            "--set", "probeToken.existingSecret=pharos-probe-credentials",
            "--set", "probeToken.existingSecretKey=probe-token",
            # No controller-manager here: an earlier release's PVC stays Terminating (pvc-protection).
            "--set", "persistence.enabled=false")
    try:
        manifest = helm_on(cluster, helm, "get", "manifest", RELEASE, "--namespace", NAMESPACE).stdout
        kinds = [d["kind"] for d in yaml.safe_load_all(manifest) if d]
        assert "Secret" not in kinds
        assert can_i(cluster, "get", "secrets/pharos-probe-credentials", NAMESPACE)
        assert not can_i(cluster, "get", f"secrets/{RELEASE}-probe-token", NAMESPACE)
    finally:
        helm_on(cluster, helm, "uninstall", RELEASE, "--namespace", NAMESPACE)
