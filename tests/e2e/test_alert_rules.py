"""Prometheus artefacts of the chart, checked with the real promtool (Debian `prometheus` package).

* charts/pharos/files/rules/pharos-alerts.yaml passes `promtool check rules`;
* tests/e2e/rules_test.yaml (`promtool test rules`) passes, has a firing and a not-firing case for
  every alert, and fails when any alert is removed (so each alert is really exercised);
* every alert has a severity, a summary, a description and a runbook link to an existing section
  of docs/alerts.md;
* the Grafana dashboards are well-formed (schemaVersion 39, `${datasource}` everywhere, the
  namespace/monitor/region variables), every PromQL expression in them parses (promtool), and
  they use only metrics of the operator/probe contract, which docs/monitoring.md ("Metrics reference") documents.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(os.environ.get("PHAROS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RULES = REPO / "charts" / "pharos" / "files" / "rules" / "pharos-alerts.yaml"
RULES_TEST = REPO / "tests" / "e2e" / "rules_test.yaml"
DASHBOARDS = REPO / "charts" / "pharos" / "files" / "dashboards"
ALERTS_DOC = REPO / "docs" / "alerts.md"
METRICS_DOC = REPO / "docs" / "monitoring.md"
sys.path.insert(0, str(REPO / "tests" / "support"))

from dashboard_queries import (CONTRACT_METRICS, base_metric, dashboard_queries,  # noqa: E402
                               metric_names, rule_queries, substitute, QueryError)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if not path and os.access("/usr/bin/promtool", os.X_OK):
        path = "/usr/bin/promtool"
    if not path:
        pytest.fail("promtool not found: install the Debian 'prometheus' package (scripts/setup does)",
                    pytrace=False)
    return path


def run(cmd, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


def alerts() -> list:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


# ----------------------------------------------------------------------------- rules
def test_promtool_check_rules(promtool):
    proc = run([promtool, "check", "rules", str(RULES)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in proc.stdout, proc.stdout


def test_promtool_unit_tests_pass(promtool):
    proc = run([promtool, "test", "rules", str(RULES_TEST)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_alert_has_firing_and_not_firing_cases():
    cases = [case for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == 13 and len(set(names)) == 13, names
    for name in names:
        firing = [c for c in cases if c["alertname"] == name and c.get("exp_alerts")]
        quiet = [c for c in cases if c["alertname"] == name and not c.get("exp_alerts")]
        assert firing, f"{name}: no test case where it fires"
        assert quiet, f"{name}: no test case where it stays silent"


@pytest.mark.parametrize("name", [rule["alert"] for rule in alerts()])
def test_unit_tests_fail_without_the_alert(promtool, tmp_path, name):
    """Removing one alert from the rule file must break its unit tests."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        group["rules"] = [r for r in group["rules"] if r.get("alert") != name]
    rules_dir = tmp_path / "charts" / "pharos" / "files" / "rules"
    rules_dir.mkdir(parents=True)
    (rules_dir / RULES.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    test_dir = tmp_path / "tests" / "e2e"
    test_dir.mkdir(parents=True)
    shutil.copy(RULES_TEST, test_dir / RULES_TEST.name)
    proc = run([promtool, "test", "rules", str(test_dir / RULES_TEST.name)])
    assert proc.returncode != 0, f"the unit tests still pass without {name}"
    assert name in proc.stdout + proc.stderr


def anchors(markdown: str) -> set:
    """GitHub heading anchors of a Markdown document."""
    out = set()
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).lower())
            out.add(text.replace(" ", "-"))
    return out


def test_alerts_have_labels_annotations_and_runbooks():
    assert ALERTS_DOC.exists(), "docs/alerts.md (the runbooks) is missing"
    doc_anchors = anchors(ALERTS_DOC.read_text())
    for rule in alerts():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        url = annotations["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == "https://github.com/pharos-dev/pharos/blob/main/docs/alerts.md", url
        assert anchor == name.lower(), f"{name}: runbook anchor {anchor!r}"
        assert anchor in doc_anchors, f"{name}: docs/alerts.md has no section '{name}'"
        assert "for" in rule, f"{name}: alerts need a `for` duration against flapping"


def test_alerts_use_contract_metrics_only():
    for q in rule_queries():
        unknown = {m for m in metric_names(q.expr) if base_metric(m) not in CONTRACT_METRICS}
        assert not unknown, f"{q.title} uses metrics outside the contract: {unknown}"


# ----------------------------------------------------------------------------- dashboards
def boards():
    files = sorted(DASHBOARDS.glob("*.json"))
    names = [f.name for f in files]
    assert names == ["pharos-monitor.json", "pharos-overview.json", "pharos-system.json"], names
    return [(f.name, json.loads(f.read_text())) for f in files]


DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def test_dashboards_are_well_formed():
    for name, board in boards():
        assert board["schemaVersion"] == 39, name
        assert board["uid"] == name[:-5] and board["title"].startswith("Pharos / "), name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for var in variables.values():
            if var["type"] == "query":
                assert var["datasource"] == DATASOURCE, (name, var["name"])
        ids = [p["id"] for p in all_panels(board["panels"])]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in all_panels(board["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == DATASOURCE, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", (name, panel["title"])
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (name, panel["title"])
    by_name = dict(boards())
    for name in ["pharos-overview.json", "pharos-monitor.json"]:
        variables = {v["name"] for v in by_name[name]["templating"]["list"]}
        assert {"namespace", "monitor"} <= variables, name
    assert "region" in {v["name"] for v in by_name["pharos-monitor.json"]["templating"]["list"]}
    assert "region" in {v["name"] for v in by_name["pharos-system.json"]["templating"]["list"]}


def test_dashboard_queries_parse(promtool, tmp_path):
    """promtool parses every dashboard expression (as recording rules of a scratch file)."""
    queries = dashboard_queries()
    assert len(queries) > 40
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"pharos_dashboard:query_{i}", "expr": q.expr} for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    proc = run([promtool, "check", "rules", str(path)])
    if proc.returncode != 0:
        lines = "\n".join(f"{i}: {q.source} {q.title}: {q.expr}" for i, q in enumerate(queries))
        pytest.fail(f"promtool rejected a dashboard query:\n{proc.stdout}{proc.stderr}\n{lines}")


def test_dashboards_use_contract_metrics_and_cover_them():
    used = set()
    for q in dashboard_queries():
        names = {base_metric(m) for m in metric_names(q.expr)}
        unknown = names - set(CONTRACT_METRICS)
        assert not unknown, f"{q.source} {q.title!r} uses metrics outside the contract: {unknown}"
        assert names, f"{q.source} {q.title!r}: no metric in {q.expr}"
        used |= names
    unused = set(CONTRACT_METRICS) - used
    assert not unused, f"contract metrics on no dashboard: {unused}"


def test_query_helper_substitutes_and_finds_metrics():
    expr = ('sum(rate(pharos_check_results_total{namespace=~"$namespace", region=~"${region}"}'
            '[$__rate_interval]))')
    assert substitute(expr, "t") == \
        'sum(rate(pharos_check_results_total{namespace=~".*", region=~".*"}[1m]))'
    with pytest.raises(QueryError):
        substitute('pharos_monitor_up{namespace="$namespace"}', "t")
    assert metric_names('histogram_quantile(0.9, sum by (le) '
                        '(rate(pharos_store_write_seconds_bucket[5m]))) '
                        '/ on(instance) group_left pharos_leader or absent(up{job="x"})') == {
        "pharos_store_write_seconds_bucket", "pharos_leader", "up"}
    assert base_metric("pharos_store_write_seconds_bucket") == "pharos_store_write_seconds"
    assert base_metric("pharos_probe_checks_total") == "pharos_probe_checks_total"


def test_metrics_doc_lists_every_metric():
    text = METRICS_DOC.read_text()
    for name, kind in CONTRACT_METRICS.items():
        row = re.search(rf"^\|\s*`{name}`\s*\|\s*(\w+)\s*\|", text, re.M)
        assert row, f"docs/monitoring.md has no table row for {name}"
        assert row.group(1) == kind, f"docs/monitoring.md: {name} is a {kind}, not a {row.group(1)}"
