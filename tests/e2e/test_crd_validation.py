"""The Monitor CRD (crds/monitors.pharos.dev.yaml) on a real kube-apiserver.

* the CRD is accepted and becomes Established (structural schema, CEL rules compile and fit the
  cost budget);
* valid Monitors of each type are accepted and read back with every schema default applied;
* a table of invalid Monitors is rejected by the API server itself, each with the expected
  schema / CEL message;
* the status subresource takes the operator's status and the printer columns show it;
* `kubectl get mon` prints STATE TARGET FREQUENCY UPTIME LATENCY AGE;
* the CRD and `pharos validate` (src/common/monitor_validator.cpp) agree on every limit: a
  Monitor exactly at a limit is accepted by both, one just over it is rejected by both.

Tools: etcd, kube-apiserver, kubectl from tests/k8s/build-tools (the test fails, naming that
script, when they are missing).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

import pharos

REPO = Path(os.environ.get("PHAROS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
CRD = REPO / "crds" / "monitors.pharos.dev.yaml"
K8S_DIR = REPO / "tests" / "k8s"
sys.path.insert(0, str(K8S_DIR))

from control_plane import ControlPlane, require_tools  # noqa: E402

NS = "crd-test"


def k8s_bin() -> Path:
    return require_tools("kubectl", "kube-apiserver", "etcd")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    os.environ["PHAROS_K8S_BIN"] = str(k8s_bin())  # control-plane uses these, no build step
    with ControlPlane(tmp_path_factory.mktemp("cp")) as cp:
        cp.kubectl("apply", "-f", str(CRD))
        cp.wait_crds_established("monitors.pharos.dev")
        cp.kubectl("create", "namespace", NS)
        yield cp


def monitor(name: str, spec: dict) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def apply(cluster, obj: dict, dry_run: bool = False):
    args = ["apply", "-f", "-"] + (["--dry-run=server"] if dry_run else [])
    return cluster.kubectl(*args, input=json.dumps(obj), check=False)


def get(cluster, name: str) -> dict:
    return json.loads(cluster.kubectl("get", "monitor", name, "-n", NS, "-o", "json").stdout)


HTTP = {"url": "https://shop.example.com/api/health"}


# ----------------------------------------------------------------------------- valid
def test_crd_established_with_names_and_status_subresource(cluster):
    crd = json.loads(cluster.kubectl("get", "crd", "monitors.pharos.dev", "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"
    assert conditions.get("NonStructuralSchema") is None, "the schema must be structural"
    assert crd["spec"]["names"]["shortNames"] == ["mon"]
    assert crd["spec"]["names"]["categories"] == ["all", "pharos"]
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
    resources = cluster.kubectl("api-resources", "--api-group=pharos.dev", "-o", "wide").stdout
    assert "mon" in resources and "Monitor" in resources and "true" in resources  # namespaced


def test_http_monitor_accepted_with_defaults(cluster):
    proc = apply(cluster, monitor("minimal-http", {"type": "http", "http": dict(HTTP)}))
    assert proc.returncode == 0, proc.stderr
    spec = get(cluster, "minimal-http")["spec"]
    assert spec["frequency"] == "1m"
    assert spec["timeout"] == "10s"
    assert spec["retries"] == 0
    assert spec["suspend"] is False
    assert spec["http"]["method"] == "GET"
    assert spec["http"]["followRedirects"] is True
    assert spec["http"]["tls"] == {"insecureSkipVerify": False}
    # No failureThreshold default in the schema: the operator's parser picks 2, or 1 for push.
    assert spec["alerting"] == {"successThreshold": 1, "regionQuorum": 1,
                                "screenshot": False, "sendOnResolved": True}
    assert "degradedAfter" not in spec and "regions" not in spec


def test_full_http_monitor_from_design_accepted(cluster):
    spec = {
        "type": "http", "frequency": "1m", "regions": ["eu-west", "us-east"], "timeout": "10s",
        "degradedAfter": "2s", "retries": 2, "suspend": False,
        "http": {"url": "https://shop.example.com/api/health", "method": "POST",
                 "headers": {"Accept": "application/json", "X-Request-ID": "pharos"}, "body": "{}",
                 "followRedirects": False,
                 "tls": {"insecureSkipVerify": True, "serverName": "shop.example.com"}},
        "assertions": [
            {"type": "statusCode", "op": "eq", "value": "200"},
            {"type": "header", "name": "content-type", "op": "contains", "value": "json"},
            {"type": "body", "op": "contains", "value": '"status":"ok"'},
            {"type": "body", "op": "not_empty"},
            {"type": "jsonPath", "path": "$.checks.db", "op": "eq", "value": "up"},
            {"type": "latency", "op": "lt", "value": "500ms"},
            {"type": "certExpiry", "op": "gt", "value": "168h"},
            {"type": "jsonPath", "path": "$.queue.length", "op": "lte", "value": "1e3"},
            {"type": "body", "op": "matches", "value": "(?i)ok"},
        ],
        "alerting": {"failureThreshold": 3, "successThreshold": 2, "regionQuorum": "majority",
                     "channels": ["oncall-slack"], "screenshot": True, "sendOnResolved": True},
    }
    proc = apply(cluster, monitor("checkout-api", spec))
    assert proc.returncode == 0, proc.stderr
    stored = get(cluster, "checkout-api")["spec"]
    assert stored == spec, "a fully specified Monitor is stored unchanged (nothing pruned)"


def test_tcp_and_dns_monitors_accepted_with_defaults(cluster):
    tcp = {"type": "tcp", "frequency": "30s", "timeout": "5s", "regions": ["eu-west"],
           "tcp": {"host": "db.example.com", "port": 5432, "tls": True,
                   "tlsOptions": {"serverName": "db.internal"}},
           "assertions": [{"type": "certExpiry", "op": "gt", "value": "336h"},
                          {"type": "latency", "op": "lte", "value": "1.5s"}],
           "alerting": {"regionQuorum": 1}}
    dns = {"type": "dns", "frequency": "5m",
           "dns": {"name": "example.com", "server": "127.0.0.1:5353"},
           "assertions": [{"type": "dnsRecord", "op": "contains", "value": "93.184.216.34"},
                          {"type": "dnsRecord", "op": "not_empty"}]}
    ipv6 = {"type": "tcp", "tcp": {"host": "::1", "port": 22}}
    for name, spec in [("postgres", tcp), ("example-dns", dns), ("ssh-v6", ipv6)]:
        proc = apply(cluster, monitor(name, spec))
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
    assert get(cluster, "postgres")["spec"]["tcp"]["tlsOptions"] == {"serverName": "db.internal",
                                                                     "insecureSkipVerify": False}
    assert get(cluster, "ssh-v6")["spec"]["tcp"]["tls"] is False
    stored_dns = get(cluster, "example-dns")["spec"]
    assert stored_dns["dns"]["recordType"] == "A"
    assert stored_dns["timeout"] == "10s" and "failureThreshold" not in stored_dns["alerting"]


def test_new_check_types_accepted_with_defaults(cluster):
    specs = {
        "ping": {"type": "icmp", "icmp": {"host": "127.0.0.1"},
                 "assertions": [{"type": "packetLoss", "op": "lte", "value": "20"}]},
        "health": {"type": "grpc", "grpc": {"address": "[::1]:50051", "service": "orders",
                                            "tls": True, "metadata": {"x-team": "core"}},
                   "assertions": [{"type": "certExpiry", "op": "gt", "value": "168h"}]},
        "nightly": {"type": "push", "push": {"expectEvery": "24h", "maxRunTime": "1h"}},
        "keyed": {"type": "push", "push": {"expectEvery": "1h", "tokenFrom": {
            "secretKeyRef": {"name": "ping-tokens", "key": "backup"}}}},
        "smtp": {"type": "tcp", "tcp": {"host": "mail.example.com", "port": 25, "conversation": [
            {"expect": "220 "}, {"send": "EHLO pharos\r\n"},
            {"expectRegex": "^250[ -]STARTTLS", "timeout": "2s"}, {"send": "STARTTLS\r\n"},
            {"expect": "220"}, {"startTls": True}]},
            "assertions": [{"type": "certExpiry", "op": "gt", "value": "336h"}]},
        "every": {"type": "http", "http": {**HTTP, "resolve": "all"},
                  "alerting": {"addressQuorum": "majority"}},
        "backends": {"type": "http", "target": {"service": {"name": "web", "port": "http"}}},
        "backends-tcp": {"type": "tcp", "tcp": {"tls": True},
                         "target": {"service": {"name": "db", "port": 5432}}},
        "backends-ping": {"type": "icmp", "icmp": {"count": 1},
                          "target": {"service": {"name": "web"}}},
        "backends-grpc": {"type": "grpc", "target": {"service": {"name": "api", "port": "grpc-2"}}},
    }
    for name, spec in specs.items():
        proc = apply(cluster, monitor(name, spec))
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
    ping = get(cluster, "ping")["spec"]["icmp"]
    assert ping == {"host": "127.0.0.1", "count": 3, "interval": "1s", "packetSize": 56,
                    "ipFamily": "any"}
    assert get(cluster, "nightly")["spec"]["push"]["grace"] == "1m"
    assert get(cluster, "backends")["spec"]["target"]["service"] == {
        "name": "web", "port": "http", "path": "/", "scheme": "http"}
    assert get(cluster, "every")["spec"]["alerting"]["addressQuorum"] == "majority"


def example_monitors(valid: bool) -> list:
    """Monitors of examples/: invalid.yaml holds deliberate mistakes, the other files none."""
    paths = [p for p in sorted((REPO / "examples").glob("**/*.yaml"))
             if (p.name == "invalid.yaml") != valid]
    return [(path.name, doc) for path in paths for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == "Monitor"]


def test_examples_are_accepted(cluster):
    """What `pharos validate` accepts, the API server accepts (the examples must apply as is)."""
    monitors = example_monitors(valid=True)
    if not monitors:
        pytest.skip("examples/ holds no Monitor yet")
    for source, doc in monitors:
        doc["metadata"]["namespace"] = NS
        proc = apply(cluster, doc, dry_run=True)
        assert proc.returncode == 0, f"{source}: Monitor {doc['metadata']['name']}: {proc.stderr}"


def test_invalid_examples_are_rejected(cluster):
    """What `pharos validate` rejects (examples/invalid.yaml), the API server rejects too."""
    monitors = example_monitors(valid=False)
    if not monitors:
        pytest.skip("examples/invalid.yaml holds no Monitor yet")
    for source, doc in monitors:
        doc["metadata"]["namespace"] = NS
        proc = apply(cluster, doc, dry_run=True)
        assert proc.returncode != 0, f"{source}: Monitor {doc['metadata']['name']} was accepted"


# ----------------------------------------------------------------------------- invalid
def assertion(**fields) -> dict:
    return {"type": "http", "http": dict(HTTP), "assertions": [fields]}


INVALID = [
    # (id, spec, expected message substring)
    ("type-missing", {"http": dict(HTTP)}, "spec.type: Required value"),
    ("type-unknown", {"type": "ftp"}, 'spec.type: Unsupported value: "ftp"'),
    ("block-missing", {"type": "http"},
     "type http requires spec.http and no other type's block (exactly the block matching spec.type"),
    ("block-mismatch", {"type": "tcp", "http": dict(HTTP)},
     "type tcp requires spec.tcp and no other type's block"),
    ("two-blocks", {"type": "dns", "dns": {"name": "example.com"}, "tcp": {"host": "a", "port": 1}},
     "type dns requires spec.dns and no other type's block"),
    ("frequency-not-a-class", {"type": "http", "http": dict(HTTP), "frequency": "2m"},
     'spec.frequency: Unsupported value: "2m"'),
    ("timeout-over-frequency",
     {"type": "http", "http": dict(HTTP), "frequency": "10s", "timeout": "30s"},
     "timeout must not exceed frequency"),
    ("timeout-zero", {"type": "http", "http": dict(HTTP), "timeout": "0s"},
     "timeout must be greater than 0"),
    ("timeout-not-a-duration", {"type": "http", "http": dict(HTTP), "timeout": "10 seconds"},
     "spec.timeout in body should match"),
    ("degraded-not-below-timeout",
     {"type": "http", "http": dict(HTTP), "timeout": "2s", "degradedAfter": "2s"},
     "degradedAfter must be less than timeout"),
    ("degraded-over-default-timeout", {"type": "http", "http": dict(HTTP), "degradedAfter": "1m"},
     "degradedAfter must be less than timeout"),
    ("url-scheme", {"type": "http", "http": {"url": "ftp://files.example.com/x"}},
     "url must be an absolute http:// or https:// URL with a host"),
    ("url-relative", {"type": "http", "http": {"url": "/healthz"}},
     "url must be an absolute http:// or https:// URL with a host"),
    ("url-missing", {"type": "http", "http": {"method": "GET"}}, "spec.http.url: Required value"),
    ("method", {"type": "http", "http": {"url": HTTP["url"], "method": "FETCH"}},
     'spec.http.method: Unsupported value: "FETCH"'),
    ("header-name-token",
     {"type": "http", "http": {"url": HTTP["url"], "headers": {"Bad Header": "x"}}},
     "header names must be HTTP tokens"),
    ("dns-assertion-on-http", assertion(type="dnsRecord", op="contains", value="1.2.3.4"),
     "assertions of an http monitor must be of type statusCode, header, body, jsonPath, latency "
     "or certExpiry"),
    ("status-assertion-on-tcp", {"type": "tcp", "tcp": {"host": "db", "port": 5432},
                                 "assertions": [{"type": "statusCode", "op": "eq", "value": "200"}]},
     "assertions of a tcp monitor must be of type latency or certExpiry"),
    ("body-assertion-on-dns", {"type": "dns", "dns": {"name": "example.com"},
                               "assertions": [{"type": "body", "op": "contains", "value": "x"}]},
     "assertions of a dns monitor must be of type dnsRecord or latency"),
    ("value-missing", assertion(type="body", op="contains"),
     "value is required unless op is empty or not_empty"),
    ("header-without-name", assertion(type="header", op="eq", value="json"),
     "a header assertion needs name (the header to check)"),
    ("name-on-body", assertion(type="body", op="contains", value="x", name="content-type"),
     "name is only used by header assertions"),
    ("jsonpath-without-path", assertion(type="jsonPath", op="eq", value="up"),
     "a jsonPath assertion needs path, a JSONPath starting with $"),
    ("jsonpath-bad-path", assertion(type="jsonPath", op="eq", value="up", path="checks.db"),
     "a jsonPath assertion needs path, a JSONPath starting with $"),
    ("status-code-not-numeric", assertion(type="statusCode", op="eq", value="OK"),
     "a statusCode value must be a numeric HTTP status code (100-599)"),
    ("status-code-op", assertion(type="statusCode", op="contains", value="200"),
     "a statusCode assertion supports op eq, not_eq, gt, gte, lt or lte"),
    ("latency-not-duration", assertion(type="latency", op="lt", value="fast"),
     "latency and certExpiry values are durations"),
    ("latency-op", assertion(type="latency", op="contains", value="1s"),
     "latency and certExpiry assertions support op eq, not_eq, gt, gte, lt or lte"),
    ("value-with-empty", assertion(type="body", op="empty", value="x"),
     "value is not used with op empty or not_empty"),
    ("ordering-needs-number", assertion(type="jsonPath", path="$.count", op="gt", value="many"),
     "gt, gte, lt and lte compare numbers: value must be a number"),
    ("degraded-zero", {"type": "http", "http": dict(HTTP), "degradedAfter": "0ms"},
     "degradedAfter must be greater than 0"),
    ("header-duplicate", {"type": "http", "http": {"url": HTTP["url"],
                                                   "headers": {"Accept": "a", "accept": "b"}}},
     "header names must be unique ignoring case"),
    ("header-value-newline", {"type": "http", "http": {"url": HTTP["url"],
                                                       "headers": {"X-A": "a\r\nX-Injected: 1"}}},
     "header values must not contain CR, LF or NUL characters"),
    ("assertion-op-unknown", assertion(type="body", op="like", value="x"),
     'spec.assertions[0].op: Unsupported value: "like"'),
    ("too-many-assertions", {"type": "http", "http": dict(HTTP),
                             "assertions": [{"type": "body", "op": "not_empty"}] * 51},
     "must have at most 50 items"),
    ("cert-on-plain-http", {"type": "http", "http": {"url": "http://example.com/"},
                            "assertions": [{"type": "certExpiry", "op": "gt", "value": "168h"}]},
     "a certExpiry assertion needs an https:// URL"),
    ("cert-on-tcp-without-tls", {"type": "tcp", "tcp": {"host": "db", "port": 5432},
                                 "assertions": [{"type": "certExpiry", "op": "gt", "value": "168h"}]},
     "a certExpiry assertion on a tcp monitor needs spec.tcp.tls: true or a startTls step"),
    ("quorum-word", {"type": "http", "http": dict(HTTP), "alerting": {"regionQuorum": "most"}},
     'regionQuorum must be an integer >= 1 or "majority"'),
    ("quorum-zero", {"type": "http", "http": dict(HTTP), "alerting": {"regionQuorum": 0}},
     'regionQuorum must be an integer >= 1 or "majority"'),
    ("quorum-over-regions", {"type": "http", "http": dict(HTTP), "regions": ["eu-west", "us-east"],
                             "alerting": {"regionQuorum": 3}},
     "alerting.regionQuorum must not exceed the number of regions listed in spec.regions"),
    ("failure-threshold-zero",
     {"type": "http", "http": dict(HTTP), "alerting": {"failureThreshold": 0}},
     "spec.alerting.failureThreshold: Invalid value: 0: spec.alerting.failureThreshold in body "
     "should be greater than or equal to 1"),
    ("screenshot-on-dns",
     {"type": "dns", "dns": {"name": "example.com"}, "alerting": {"screenshot": True}},
     "alerting.screenshot is only available for http monitors"),
    ("region-name", {"type": "http", "http": dict(HTTP), "regions": ["EU_West"]},
     "spec.regions[0] in body should match"),
    ("region-duplicate", {"type": "http", "http": dict(HTTP), "regions": ["eu-west", "eu-west"]},
     'spec.regions[1]: Duplicate value: "eu-west"'),
    ("tcp-port-range", {"type": "tcp", "tcp": {"host": "db", "port": 70000}},
     "spec.tcp.port in body should be less than or equal to 65535"),
    ("icmp-count-range", {"type": "icmp", "icmp": {"host": "127.0.0.1", "count": 101}},
     "spec.icmp.count: Invalid value: 101: spec.icmp.count in body should be less than or equal to 100"),
    ("icmp-without-host", {"type": "icmp", "icmp": {"count": 1}},
     "spec.icmp needs host (or spec.target.service)"),
    ("packet-loss-on-http", assertion(type="packetLoss", op="lt", value="10"),
     "packetLoss assertions apply to icmp monitors only"),
    ("grpc-address-without-port", {"type": "grpc", "grpc": {"address": "api.example.com"}},
     "spec.grpc.address in body should match"),
    ("grpc-cert-without-tls", {"type": "grpc", "grpc": {"address": "api:50051"},
                               "assertions": [{"type": "certExpiry", "op": "gt", "value": "168h"}]},
     "a certExpiry assertion on a grpc monitor needs spec.grpc.tls: true"),
    ("push-without-expect-every", {"type": "push", "push": {"grace": "1m"}},
     "spec.push.expectEvery: Required value"),
    ("push-token-from-env", {"type": "push", "push": {"expectEvery": "1h",
                                                      "tokenFrom": {"env": "PING_TOKEN"}}},
     "in Kubernetes the token comes from spec.push.tokenFrom.secretKeyRef"),
    ("push-token-from-secret-without-key", {"type": "push", "push": {
        "expectEvery": "1h", "tokenFrom": {"secretKeyRef": {"name": "ping-tokens"}}}},
     "spec.push.tokenFrom.secretKeyRef.key: Required value"),
    ("step-doing-two-things", {"type": "tcp", "tcp": {"host": "mail", "port": 25, "conversation": [
        {"send": "EHLO x\r\n", "expect": "250"}]}},
     "a step does exactly one thing: send, expect, expectRegex or startTls"),
    ("timeout-on-a-send-step", {"type": "tcp", "tcp": {"host": "mail", "port": 25, "conversation": [
        {"send": "EHLO x\r\n", "timeout": "1s"}]}},
     "only expect and expectRegex steps take a timeout"),
    ("resolve-unknown", {"type": "http", "http": {**HTTP, "resolve": "some"}},
     'spec.http.resolve: Unsupported value: "some"'),
    ("address-quorum-zero", {"type": "http", "http": dict(HTTP), "alerting": {"addressQuorum": 0}},
     'addressQuorum must be an integer >= 1 or "majority"'),
    ("service-target-on-dns", {"type": "dns", "dns": {"name": "example.com"},
                               "target": {"service": {"name": "web", "port": 80}}},
     "spec.target.service is for http, tcp, icmp and grpc monitors"),
    ("service-target-without-port", {"type": "http", "target": {"service": {"name": "web"}}},
     "spec.target.service.port is required"),
    ("service-target-and-url", {"type": "http", "http": dict(HTTP),
                                "target": {"service": {"name": "web", "port": 80}}},
     "give either a URL, host or address or spec.target.service, not both"),
    ("service-target-and-tcp-host", {"type": "tcp", "tcp": {"host": "db", "port": 5432},
                                     "target": {"service": {"name": "db", "port": 5432}}},
     "give either a URL, host or address or spec.target.service, not both"),
    ("service-target-and-resolve", {"type": "tcp", "tcp": {"resolve": "all"},
                                    "target": {"service": {"name": "db", "port": 5432}}},
     "a Service target checks every ready endpoint; leave resolve out"),
    ("service-target-without-service", {"type": "http", "target": {}},
     "spec.target.service: Required value"),
    ("service-port-range", {"type": "http", "target": {"service": {"name": "web", "port": 0}}},
     "port must be a number from 1 to 65535 or a port name"),
    ("service-port-name", {"type": "http", "target": {"service": {"name": "web",
                                                                  "port": "Web_Port"}}},
     "port must be a number from 1 to 65535 or a port name"),
    ("service-port-name-digits", {"type": "http", "target": {"service": {"name": "web",
                                                                         "port": "8080"}}},
     "port must be a number from 1 to 65535 or a port name"),
    ("retries-range", {"type": "http", "http": dict(HTTP), "retries": 11},
     "spec.retries in body should be less than or equal to 10"),
    ("dns-record-type", {"type": "dns", "dns": {"name": "example.com", "recordType": "SRV"}},
     'spec.dns.recordType: Unsupported value: "SRV"'),
    ("dns-name", {"type": "dns", "dns": {"name": "not a name"}}, "spec.dns.name in body should match"),
    ("dns-server", {"type": "dns", "dns": {"name": "example.com", "server": "dns server:53"}},
     "spec.dns.server in body should match"),
]


@pytest.mark.parametrize("spec,message", [(s, m) for _, s, m in INVALID],
                         ids=[i for i, _, _ in INVALID])
def test_invalid_monitor_rejected(cluster, spec, message):
    proc = apply(cluster, monitor("invalid", spec), dry_run=True)
    assert proc.returncode != 0, f"the API server accepted an invalid Monitor: {spec}"
    assert message in proc.stderr, f"expected {message!r} in:\n{proc.stderr}"


def test_invalid_duration_reports_only_the_pattern(cluster):
    """A malformed duration gives the pattern error, not CEL conversion errors as well."""
    proc = apply(cluster, monitor("invalid", {"type": "http", "http": dict(HTTP), "timeout": "ten",
                                              "degradedAfter": "1s"}), dry_run=True)
    assert proc.returncode != 0
    assert "spec.timeout in body should match" in proc.stderr
    assert "conversion" not in proc.stderr and "evaluating rule" not in proc.stderr, proc.stderr


def test_spec_update_is_validated_too(cluster):
    apply(cluster, monitor("to-update", {"type": "http", "http": dict(HTTP)})).check_returncode()
    proc = cluster.kubectl("patch", "monitor", "to-update", "-n", NS, "--type=merge",
                           "-p", json.dumps({"spec": {"frequency": "10s", "timeout": "20s"}}),
                           check=False)
    assert proc.returncode != 0 and "timeout must not exceed frequency" in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------- status & columns
def patch_status(cluster, name: str, status: dict, check: bool = True):
    return cluster.kubectl("patch", "monitor", name, "-n", NS, "--subresource=status", "--type=merge",
                           "-p", json.dumps({"status": status}), check=check)


def test_status_subresource_and_printer_columns(cluster):
    spec = {"type": "http", "frequency": "30s", "http": dict(HTTP)}
    apply(cluster, monitor("with-status", spec)).check_returncode()
    header = cluster.kubectl("get", "mon", "-n", NS).stdout.splitlines()[0].split()
    assert header == ["NAME", "STATE", "TARGET", "FREQUENCY", "UPTIME", "LATENCY", "AGE"], header

    generation = get(cluster, "with-status")["metadata"]["generation"]
    status = {
        "observedGeneration": generation, "state": "Down", "target": HTTP["url"],
        "lastCheckTime": "2026-01-02T03:04:05Z", "lastTransitionTime": "2026-01-02T03:00:00Z",
        "uptime": {"last24h": "99.51", "last7d": "99.90", "last30d": "99.97"},
        "latency": {"p50Ms": 41, "p95Ms": 120},
        "regions": [{"name": "eu-west", "state": "Down", "lastCheckTime": "2026-01-02T03:04:05Z",
                     "latencyMs": 38, "statusCode": 503, "message": "status code 503, expected 200"},
                    {"name": "us-east", "state": "Up", "latencyMs": 44, "statusCode": 200,
                     "failingEndpoints": ["10.1.2.3:8080 (web-7d9f)"]}],
        "failingEndpoints": ["10.1.2.3:8080 (web-7d9f)"],
        "incident": {"id": "inc-1", "since": "2026-01-02T03:00:00Z"},
        "push": {"token": "0123456789abcdef0123456789abcdef"},
        "conditions": [{"type": "Ready", "status": "False", "reason": "TargetDown",
                        "message": "eu-west: status code 503",
                        "lastTransitionTime": "2026-01-02T03:00:00Z",
                        "observedGeneration": generation}],
    }
    patch_status(cluster, "with-status", status)
    stored = get(cluster, "with-status")
    assert stored["status"] == status, "the whole status is kept (nothing pruned)"
    assert stored["metadata"]["generation"] == generation, \
        "a status write does not bump the generation"

    row = cluster.kubectl("get", "mon", "with-status", "-n", NS, "--no-headers").stdout.split()
    assert row[:6] == ["with-status", "Down", HTTP["url"], "30s", "99.51", "41"], row
    wide = cluster.kubectl("get", "mon", "with-status", "-n", NS, "-o", "wide").stdout.splitlines()
    assert "TYPE" in wide[0].split() and "http" in wide[1].split()

    # The main endpoint ignores status; the status endpoint validates it.
    applied = monitor("with-status", {"type": "http", "frequency": "30s", "http": dict(HTTP)})
    applied["status"] = {"state": "Up"}
    apply(cluster, applied).check_returncode()
    assert get(cluster, "with-status")["status"]["state"] == "Down"
    proc = patch_status(cluster, "with-status", {"state": "Sleeping"}, check=False)
    assert proc.returncode != 0, "an unknown state must be rejected"
    assert 'status.state: Unsupported value: "Sleeping"' in proc.stderr, proc.stderr
    bad_condition = {"conditions": [{"type": "Ready", "status": "Maybe"}]}
    proc = patch_status(cluster, "with-status", bad_condition, check=False)
    assert proc.returncode != 0 and "status.conditions[0]" in proc.stderr, proc.stderr


def test_short_name_and_category(cluster):
    apply(cluster, monitor("listed", {"type": "http", "http": dict(HTTP)})).check_returncode()
    for resource in ["mon", "monitors", "monitors.pharos.dev", "pharos"]:
        names = cluster.kubectl("get", resource, "-n", NS, "-o", "name").stdout.split()
        assert "monitor.pharos.dev/listed" in names, f"kubectl get {resource}: {names}"
    everything = cluster.kubectl("get", "all", "-n", NS, "-o", "name").stdout.split()
    assert "monitor.pharos.dev/listed" in everything


# ----------------------------------------------------------------------------- limits agree
def http_spec(**http) -> dict:
    return {"type": "http", "http": dict(HTTP, **http)}


def with_assertions(*assertions: dict, url: str = HTTP["url"]) -> dict:
    return {"type": "http", "http": {"url": url}, "assertions": list(assertions)}


def labels(count: int) -> list:
    return [f"r{i}" for i in range(count)]


WIDE = "\u00e9"  # 2 bytes in UTF-8, 1 character: limits count characters on both sides
# (id, spec exactly at the limit or valid, spec just over it or invalid)
LIMITS = [
    ("regions-count", dict(http_spec(), regions=labels(32)), dict(http_spec(), regions=labels(33))),
    ("region-name-length", dict(http_spec(), regions=["r" * 63]),
     dict(http_spec(), regions=["r" * 64])),
    ("headers-count", http_spec(headers={f"X-H{i}": "v" for i in range(20)}),
     http_spec(headers={f"X-H{i}": "v" for i in range(21)})),
    ("header-name-length", http_spec(headers={"X" * 256: "v"}),
     http_spec(headers={"X" * 257: "v"})),
    ("header-value-length", http_spec(headers={"X-A": WIDE * 8192}),
     http_spec(headers={"X-A": WIDE * 8193})),
    ("header-value-nul", http_spec(headers={"X-A": "a b"}), http_spec(headers={"X-A": "a\u0000b"})),
    ("body-length", http_spec(method="POST", body=WIDE * 65536),
     http_spec(method="POST", body=WIDE * 65537)),
    ("url-length", http_spec(url="https://example.com/" + "a" * (2048 - 20)),
     http_spec(url="https://example.com/" + "a" * (2049 - 20))),
    ("assertions-count", with_assertions(*[{"type": "body", "op": "not_empty"}] * 50),
     with_assertions(*[{"type": "body", "op": "not_empty"}] * 51)),
    ("assertion-name-length",
     with_assertions({"type": "header", "name": "X" * 256, "op": "not_empty"}),
     with_assertions({"type": "header", "name": "X" * 257, "op": "not_empty"})),
    ("assertion-name-token", with_assertions({"type": "header", "name": "x-a", "op": "not_empty"}),
     with_assertions({"type": "header", "name": "x a", "op": "not_empty"})),
    ("assertion-path-length",
     with_assertions({"type": "jsonPath", "path": "$." + "a" * 510, "op": "not_empty"}),
     with_assertions({"type": "jsonPath", "path": "$." + "a" * 511, "op": "not_empty"})),
    ("assertion-value-length",
     with_assertions({"type": "body", "op": "contains", "value": WIDE * 4096}),
     with_assertions({"type": "body", "op": "contains", "value": WIDE * 4097})),
    ("ordering-number", with_assertions({"type": "body", "op": "gt", "value": "-1.5e3"}),
     with_assertions({"type": "body", "op": "gt", "value": "1.5.3"})),
    ("latency-eq", with_assertions({"type": "latency", "op": "eq", "value": "500ms"}),
     with_assertions({"type": "latency", "op": "contains", "value": "500ms"})),
    ("cert-expiry-not-eq",
     with_assertions({"type": "certExpiry", "op": "not_eq", "value": "168h"}),
     with_assertions({"type": "certExpiry", "op": "matches", "value": "168h"})),
    ("latency-value-syntax", with_assertions({"type": "latency", "op": "lt", "value": "0.5s"}),
     with_assertions({"type": "latency", "op": "lt", "value": ".5s"})),
    ("latency-value-zero", with_assertions({"type": "latency", "op": "gt", "value": "0s"}),
     with_assertions({"type": "latency", "op": "gt", "value": "0"})),
    ("status-code-range", with_assertions({"type": "statusCode", "op": "eq", "value": "599"}),
     with_assertions({"type": "statusCode", "op": "eq", "value": "600"})),
    ("timeout-length", dict(http_spec(), timeout="1s" + "0ms" * 10),
     dict(http_spec(), timeout="10s" + "0ms" * 10)),
    ("timeout-syntax", dict(http_spec(), timeout="0.5s"), dict(http_spec(), timeout=".5s")),
    ("timeout-frequency", dict(http_spec(), frequency="10s", timeout="10s"),
     dict(http_spec(), frequency="10s", timeout="10001ms")),
    ("degraded-after", dict(http_spec(), timeout="2s", degradedAfter="1999ms"),
     dict(http_spec(), timeout="2s", degradedAfter="2000ms")),
    ("retries", dict(http_spec(), retries=10), dict(http_spec(), retries=11)),
    ("failure-threshold", dict(http_spec(), alerting={"failureThreshold": 100}),
     dict(http_spec(), alerting={"failureThreshold": 101})),
    ("success-threshold", dict(http_spec(), alerting={"successThreshold": 100}),
     dict(http_spec(), alerting={"successThreshold": 101})),
    ("channels-count", dict(http_spec(), alerting={"channels": labels(16)}),
     dict(http_spec(), alerting={"channels": labels(17)})),
    ("region-quorum", dict(http_spec(), regions=["a", "b"], alerting={"regionQuorum": 2}),
     dict(http_spec(), regions=["a", "b"], alerting={"regionQuorum": 3})),
    ("tcp-port", {"type": "tcp", "tcp": {"host": "db.example.com", "port": 65535}},
     {"type": "tcp", "tcp": {"host": "db.example.com", "port": 65536}}),
    ("dns-name-underscore", {"type": "dns", "dns": {"name": "_srv_.example.com"}},
     {"type": "dns", "dns": {"name": "-srv.example.com"}}),
    ("dns-name-length",
     {"type": "dns", "dns": {"name": ".".join(["a" * 63] * 3 + ["a" * 61]) + "."}},
     {"type": "dns", "dns": {"name": ".".join(["a" * 63] * 3 + ["a" * 62])}}),
]


def pharos_validate(tmp_path: Path, obj: dict) -> pharos.Completed:
    path = tmp_path / f"{obj['metadata']['name']}.yaml"
    path.write_text(json.dumps(obj))
    return pharos.run([pharos.binary("pharos"), "validate", str(path)])


@pytest.mark.parametrize("at,over", [(a, o) for _, a, o in LIMITS], ids=[i for i, _, _ in LIMITS])
def test_api_server_and_pharos_validate_agree_on_limits(cluster, tmp_path, at, over):
    for verdict, spec in (("accept", at), ("reject", over)):
        obj = monitor(f"limit-{verdict}", spec)
        api = apply(cluster, obj, dry_run=True)
        cli = pharos_validate(tmp_path, obj)
        want = verdict == "accept"
        assert (api.returncode == 0) == want, \
            f"the API server should {verdict} it:\n{api.stderr}"
        assert (cli.returncode == 0) == want, \
            f"pharos validate should {verdict} it:\n{cli.stdout}{cli.stderr}"
