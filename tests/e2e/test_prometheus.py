"""A real Prometheus (Debian `prometheus`) scraping a real `pharos run` and an external
`pharos-probe`, configured like the Helm chart's ServiceMonitor and PodMonitor, with the chart's
alert rules loaded; every dashboard query must return data and every rule must evaluate.

Set-up (all on 127.0.0.1, stopped by PID at the end):
* the local target server (HTTP + HTTPS under a test CA the binaries trust via PHAROS_CA_FILE)
  and dnsmasq;
* `pharos run` with Monitors in namespace `shop`, every 10 s: `web-up` (200), `web-down` (503,
  its outage told to a webhook AlertChannel on the target),
  `web-tls` (https: a certificate expiry), `dns-ok` (A record from dnsmasq) and `multi-region`
  (regions [local, eu-west]);
* `pharos-probe --region eu-west` with a region-bound token;
* Prometheus with the scrape configs of tests/support/prometheus.py::chart_scrape_configs (the
  chart's metrics path, honor_labels and relabelings, as the Prometheus Operator would generate
  them) and `rule_files` = charts/pharos/files/rules/pharos-alerts.yaml.

Scrape interval 2 s instead of the chart's 30 s, so rate() windows fill in seconds. Grafana's
`$__rate_interval` / `$__interval` become 30 s: at least 4 scrapes (Prometheus' rule for rate())
and 3 check rounds of the 10 s monitors, so that `increase(...) > 0` panels (e.g. the outcome
timeline) see a counter move in every window, as they would with the chart's settings and
Grafana's own interval computation.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
import prometheus as prom  # noqa: E402
from dashboard_queries import dashboard_queries, rule_queries  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402
from dns_server import DnsServer, DnsmasqMissing  # noqa: E402
from target_server import TargetServer  # noqa: E402

NAMESPACE = "shop"
SCRAPE_INTERVAL = "2s"
DASHBOARD_MACROS = {"__rate_interval": "30s", "__interval": "30s"}
PROBE_REGION = "eu-west"
PROBE_TOKEN = "promtest-eu-west-token"
DATA_TIMEOUT = 120  # seconds to wait for every dashboard query to return data


def _monitor(name: str, type_: str = "http", **spec) -> dict:
    return pharos.monitor(name, type_, namespace=NAMESPACE, frequency="10s", timeout="3s",
                          alerting={"failureThreshold": 1, "successThreshold": 1}, **spec)


class Stack:
    """Everything the tests query, started once for the module."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.services: list = []
        self.target: TargetServer | None = None
        self.dns: DnsServer | None = None
        self.clickhouse: ClickHouse | None = None

    def start(self) -> "Stack":
        for name in ("prometheus", "promtool"):
            prom.tool(name)
        self.target = TargetServer().start()
        self.dns = DnsServer().start()
        # Results are copied to a real ClickHouse, so the ClickHouse panels have series too.
        self.clickhouse = ClickHouse(self.tmp / "clickhouse")
        self.clickhouse.start()
        (self.tmp / "ch-password").write_text(self.clickhouse.password + "\n")
        target = self.target
        monitors = pharos.write_monitors(self.tmp, [
            _monitor("web-up", http={"url": target.url("/status/200")}),
            pharos.monitor("web-down", "http", namespace=NAMESPACE, frequency="10s",
                           timeout="3s", http={"url": target.url("/status/503")},
                           alerting={"failureThreshold": 1, "successThreshold": 1,
                                     "channels": ["hook"]}),
            # The outage of web-down is told to a webhook (the target answers 200), so the
            # notification panels have series.
            {"apiVersion": pharos.API_VERSION, "kind": "AlertChannel",
             "metadata": {"name": "hook", "namespace": NAMESPACE},
             "spec": {"type": "webhook", "webhook": {"url": target.url("/status/200")}}},
            _monitor("web-tls", http={"url": target.url("/health", listener="https")}),
            _monitor("dns-ok", "dns", dns={"name": "ok.test", "recordType": "A",
                                           "server": self.dns.server}),
            _monitor("multi-region", regions=["local", PROBE_REGION],
                     http={"url": target.url("/status/200")}),
        ])
        tokens = self.tmp / "probe-tokens"
        tokens.write_text(f"{PROBE_REGION}={PROBE_TOKEN}\n")
        probe_token = self.tmp / "probe-token"
        probe_token.write_text(PROBE_TOKEN + "\n")

        self.run = self._add(prom.PharosRun([monitors], target.ca_file, self.tmp / "run",
                                            extra_args=[
                                                "--probe-token-file", tokens,
                                                "--clickhouse-url", self.clickhouse.url,
                                                "--clickhouse-user", self.clickhouse.user,
                                                "--clickhouse-password-file",
                                                self.tmp / "ch-password",
                                                "--clickhouse-flush-interval", "1s"]))
        self.probe = self._add(prom.PharosProbe(self.run.base, PROBE_REGION, probe_token,
                                                target.ca_file, self.tmp / "probe"))
        self.probe.wait_ready()
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "2s"},
            "scrape_configs": prom.chart_scrape_configs(
                self.run.address, {self.probe.address: PROBE_REGION}, SCRAPE_INTERVAL),
        }
        self.prometheus = self._add(prom.Prometheus(config, rule_files=[prom.RULES_FILE],
                                                    workdir=self.tmp / "prometheus"))
        self.prometheus.wait_targets_up(2)
        self.run.wait_states({"web-up": "Up", "web-down": "Down", "web-tls": "Up",
                              "dns-ok": "Up", "multi-region": "Up"})
        return self

    def _add(self, service):
        self.services.append(service)
        return service

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        if self.dns:
            self.dns.stop()
        if self.clickhouse:
            self.clickhouse.stop()
        if self.target:
            self.target.stop()

    def diagnostics(self) -> str:
        return "\n".join(service.output(4000) for service in self.services)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("promtest"))
    try:
        stack.start()
    except (prom.ToolMissing, DnsmasqMissing, FileNotFoundError) as error:
        stack.stop()
        pytest.fail(str(error), pytrace=False)
    except BaseException:
        stack.stop()
        raise
    yield stack
    stack.stop()


def _series(result: list[dict]) -> str:
    return "; ".join(f"{s['metric']} = {s['value'][1]}" for s in result[:5]) or "(none)"


def test_promtool_accepts_both_metrics_endpoints(stack):
    for name, base in (("pharos run", stack.run.base), ("pharos-probe", stack.probe.base)):
        status, text = prom.http_get(base + "/metrics")
        assert status == 200, f"{name} /metrics answered {status}"
        checked = prom.promtool_check_metrics(text)
        assert checked.returncode == 0, (f"promtool check metrics rejects the {name} exposition\n"
                                         + checked.describe() + "\n" + text[:3000])
    assert "pharos_certificate_expiry_timestamp_seconds{" in prom.http_get(
        stack.run.base + "/metrics")[1], "the https monitor exported no certificate expiry"


def test_every_dashboard_query_returns_data(stack):
    queries = dashboard_queries(macros=DASHBOARD_MACROS)
    assert len(queries) > 40, f"only {len(queries)} dashboard queries found"
    p = stack.prometheus

    def outstanding() -> list[str]:
        problems = []
        for q in queries:
            where = f"{q.source} {q.kind} {q.title!r}: {q.expr}"
            try:
                result = p.query(q.expr)
            except prom.PromQueryError as error:  # a parse error never goes away: fail now
                pytest.fail(f"{where}\n{error}", pytrace=False)
            if q.kind == "variable":
                label = re.match(r"^\s*label_values\(.*,\s*(\w+)\s*\)\s*$", q.raw, re.S).group(1)
                if not any(s["metric"].get(label) for s in result):
                    problems.append(f"{where} (variable: no `{label}` label values)")
            elif not result:
                problems.append(f"{where} (no series)")
        return problems

    deadline = time.monotonic() + DATA_TIMEOUT
    problems = outstanding()
    while problems and time.monotonic() < deadline:
        time.sleep(2)  # one scrape interval between rounds
        problems = outstanding()
    assert not problems, (f"dashboard queries without data after {DATA_TIMEOUT} s:\n"
                          + "\n".join(problems) + "\n" + stack.diagnostics())


def test_every_alert_rule_evaluates(stack):
    p = stack.prometheus
    rules = rule_queries()
    assert len(rules) >= 9
    for q in rules:
        try:
            p.query(q.expr)
        except prom.PromQueryError as error:
            pytest.fail(f"alert {q.title}: {q.expr}\n{error}", pytrace=False)

    # The rule file itself is loaded and every rule evaluates without error in Prometheus.
    def evaluated():
        groups = p.api("rules")["groups"]
        loaded = [rule for group in groups for rule in group["rules"]]
        if len(loaded) != len(rules) or any(r.get("lastEvaluation", "").startswith("0001")
                                            for r in loaded):
            return None
        return loaded
    loaded = pharos.wait_for(evaluated, timeout=30, interval=0.5,
                             message="every rule of pharos-alerts.yaml evaluated")
    assert {r["name"] for r in loaded} == {q.title for q in rules}
    for rule in loaded:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"

    # The healthy parts of the system raise nothing: only the Down monitor may be pending/firing.
    active = {(a["labels"]["alertname"], a["labels"].get("monitor")) for a in p.alerts()}
    assert active <= {("PharosMonitorDown", "web-down")}, active


def test_monitor_state_and_labels(stack):
    p = stack.prometheus
    up = p.values('pharos_monitor_up{monitor=~"web-up|web-down"}')
    by_monitor = {dict(labels)["monitor"]: (dict(labels), value) for labels, value in up.items()}
    assert by_monitor["web-up"][1] == 1 and by_monitor["web-down"][1] == 0, up
    labels = by_monitor["web-up"][0]
    # honor_labels (chart ServiceMonitor): the Monitor's namespace wins over the target's.
    assert labels["namespace"] == NAMESPACE and "exported_namespace" not in labels, labels
    assert labels["job"] == prom.FULLNAME, labels
    down = p.values('pharos_monitor_state{monitor="web-down", state="Down"}')
    assert list(down.values()) == [1], down
    assert p.query('pharos_check_status_code{monitor="web-down", region="local"} == 503')
    assert p.query('pharos_incidents_open >= 1')
    assert p.query('pharos_leader == 1')


def test_check_results_increase(stack):
    p = stack.prometheus
    expr = 'sum(pharos_check_results_total{monitor="web-up", outcome="up"})'
    first = p.values(expr)
    assert first, f"no results counted for web-up: {_series(p.query(expr))}"
    start = next(iter(first.values()))
    pharos.wait_for(lambda: next(iter(p.values(expr).values())) > start, timeout=40,
                    interval=1, message=f"{expr} to grow past {start}")
    # Both regions of the multi-region monitor report. The external probe's own series carry the
    # region the PodMonitor relabeling copies from the pod label; `pharos run` exports the same
    # family for its in-process probe (region `local`, no region label of its own).
    regions = {dict(k)["region"] for k in p.values(
        'pharos_check_results_total{monitor="multi-region", outcome="up"} > 0')}
    assert regions == {"local", PROBE_REGION}, regions
    probe_checks = p.values('sum by (region, job) (pharos_probe_checks_total{outcome="up"}) > 0')
    assert sorted((dict(k) for k in probe_checks), key=lambda labels: labels["job"]) == [
        {"job": prom.FULLNAME},
        {"region": PROBE_REGION, "job": f"{prom.RELEASE_NAMESPACE}/{prom.FULLNAME}-probes"}], \
        probe_checks
    assert p.values(f'pharos_probes_connected{{region="{PROBE_REGION}"}}') and \
        list(p.values(f'pharos_probes_connected{{region="{PROBE_REGION}"}}').values()) == [1]


def _phases(p: prom.Prometheus, monitor: str) -> set[str]:
    return {dict(k)["phase"] for k in p.values(
        f'count by (phase) (pharos_check_duration_seconds_bucket{{monitor="{monitor}"}})')}


def test_phase_histograms(stack):
    p = stack.prometheus
    assert {"connect", "tls", "firstByte", "total"} <= _phases(p, "web-tls")
    assert {"dns", "total"} <= _phases(p, "dns-ok")
    assert "tls" not in _phases(p, "web-up")
    # Every bucket series ends with le="+Inf", which equals _count.
    selector = 'monitor="web-tls", region="local", phase="total"'
    buckets = p.values(f'pharos_check_duration_seconds_bucket{{{selector}}}')
    les = [dict(k)["le"] for k in buckets]
    assert "+Inf" in les and len(les) > 3, les
    mismatch = p.query(f'pharos_check_duration_seconds_bucket{{{selector}, le="+Inf"}} '
                       f'!= ignoring(le) pharos_check_duration_seconds_count{{{selector}}}')
    assert not mismatch, _series(mismatch)
    quantile = p.values('histogram_quantile(0.5, sum by (le) (rate(pharos_check_duration_seconds_'
                        f'bucket{{{selector}}}[30s])))')
    assert quantile and 0 < next(iter(quantile.values())) < 3, quantile


def test_certificate_expiry_matches_the_served_certificate(stack):
    p = stack.prometheus
    expiry = p.values('pharos_certificate_expiry_timestamp_seconds{monitor="web-tls"}')
    assert len(expiry) == 1, expiry
    served = stack.target.describe()["certs"]["https"]["earliest_not_after"]
    expected = dt.datetime.fromisoformat(served.replace("Z", "+00:00")).timestamp()
    assert abs(next(iter(expiry.values())) - expected) < 1.5, (expiry, served)
    days = p.values('(max by (monitor) (pharos_certificate_expiry_timestamp_seconds'
                    '{monitor="web-tls"}) - time()) / 86400')
    assert 80 < next(iter(days.values())) <= 90, days


def _documented(section: str) -> dict[str, str]:
    """{metric: type} of a table under `### <section>` of docs/monitoring.md's reference."""
    text = (pharos.REPO_ROOT / "docs" / "monitoring.md").read_text()
    match = re.search(rf"^### {re.escape(section)}\b.*?$(.*?)(?=^##)", text, re.M | re.S)
    assert match, f"docs/monitoring.md has no '### {section}' section"
    return dict(re.findall(r"^\|\s*`(pharos_\w+)`\s*\|\s*(\w+)\s*\|", match.group(1), re.M))


def _exposed(base: str) -> dict[str, str]:
    status, text = prom.http_get(base + "/metrics")
    assert status == 200
    return dict(re.findall(r"^# TYPE (\w+) (\w+)$", text, re.M))


def test_docs_reference_matches_the_exported_metrics(stack):
    """docs/monitoring.md lists exactly what each process exports, with the right types."""
    both = _documented("Both")
    probe = _documented("Probe")
    # `pharos run` also exports the Probe families, for its in-process probe.
    for section, base, documented in (("Operator", stack.run.base,
                                       {**_documented("Operator"), **probe}),
                                      ("Probe", stack.probe.base, probe)):
        exposed = _exposed(base)
        expected = {**documented, **{k: v for k, v in both.items() if k in exposed}}
        wrong = {k: v for k, v in exposed.items() if expected.get(k) != v}
        missing = set(expected) - set(exposed)
        assert not wrong and not missing, (
            f"{section} ({base}/metrics) vs docs/monitoring.md: exported but undocumented or of "
            f"another type: {wrong}; documented but not exported: {missing}")


def test_documented_queries_evaluate(stack):
    """Every PromQL example in docs/monitoring.md runs on real data."""
    queries = []
    for doc in ("monitoring.md",):
        text = (pharos.REPO_ROOT / "docs" / doc).read_text()
        for block in re.findall(r"```promql\n(.*?)```", text, re.S):
            current: list[str] = []
            for line in block.splitlines() + ["#"]:
                if line.startswith("#") or not line.strip():
                    if current:
                        queries.append((doc, " ".join(current)))
                    current = []
                else:
                    current.append(line.strip())
    assert len(queries) >= 6, queries
    for doc, expr in queries:
        try:
            stack.prometheus.query(expr)
        except prom.PromQueryError as error:
            pytest.fail(f"docs/{doc}: {expr}\n{error}", pytrace=False)
