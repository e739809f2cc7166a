"""Every PromQL expression Pharos ships: Grafana dashboard panels and variables, and alert rules.

Used by the e2e tests (a real Prometheus must return data for each dashboard query; promtool must
parse them; only metrics of the operator/probe contract may appear). Dashboard template variables
become regex matchers that match everything (`$namespace` → `.*`) and Grafana's interval macros
become fixed durations (`$__rate_interval` → `1m`), so the result runs on plain Prometheus.

    from dashboard_queries import dashboard_queries, rule_queries    # tests/support on sys.path
    for q in dashboard_queries():
        print(q.source, q.title, q.expr)

Command line: python3 tests/support/dashboard_queries.py [--json] [--rules] [--dashboards DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "charts" / "pharos" / "files" / "dashboards"
RULES_FILE = REPO / "charts" / "pharos" / "files" / "rules" / "pharos-alerts.yaml"

# Grafana's built-in interval variables → fixed durations.
DEFAULT_MACROS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}

# Metric names the operator and the probe export (the contract; docs/monitoring.md).
CONTRACT_METRICS: Dict[str, str] = {
    # operator
    "pharos_check_results_total": "counter",
    "pharos_check_duration_seconds": "histogram",
    "pharos_check_status_code": "gauge",
    "pharos_monitor_up": "gauge",
    "pharos_monitor_state": "gauge",
    "pharos_monitor_uptime_ratio": "gauge",
    "pharos_certificate_expiry_timestamp_seconds": "gauge",
    "pharos_incidents_open": "gauge",
    "pharos_incidents_opened_total": "counter",
    "pharos_scheduler_lateness_seconds": "histogram",
    "pharos_queue_depth": "gauge",
    "pharos_work_redelivered_total": "counter",
    "pharos_work_coalesced_total": "counter",
    "pharos_work_expired_total": "counter",
    "pharos_probes_connected": "gauge",
    "pharos_store_write_seconds": "histogram",
    "pharos_status_writes_total": "counter",
    "pharos_leader": "gauge",
    "pharos_build_info": "gauge",
    "pharos_notifications_total": "counter",
    "pharos_notification_queue_depth": "gauge",
    "pharos_notification_oldest_pending_seconds": "gauge",
    "pharos_notification_delivery_seconds": "histogram",
    "pharos_notification_events_dropped_total": "counter",
    "pharos_uptime_sweep_seconds": "gauge",
    "pharos_uptime_oldest_age_seconds": "gauge",
    # operator with --clickhouse-url (docs/analytics.md)
    "pharos_clickhouse_rows_sent_total": "counter",
    "pharos_clickhouse_rows_spooled_total": "counter",
    "pharos_clickhouse_rows_dropped_total": "counter",
    "pharos_clickhouse_batches_failed_total": "counter",
    "pharos_clickhouse_spool_bytes": "gauge",
    "pharos_clickhouse_spool_rows": "gauge",
    "pharos_clickhouse_spool_oldest_age_seconds": "gauge",
    "pharos_clickhouse_up": "gauge",
    "pharos_clickhouse_insert_seconds": "histogram",
    # probe
    "pharos_probe_checks_in_flight": "gauge",
    "pharos_probe_capacity": "gauge",
    "pharos_probe_results_pending": "gauge",
    "pharos_probe_checks_total": "counter",
    "pharos_probe_operator_errors_total": "counter",
}

_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)

# PromQL words that look like metric names.
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan", "atan2",
}


class QueryError(ValueError):
    pass


@dataclass
class Query:
    source: str     # file name
    kind: str       # "panel", "variable" or "rule"
    title: str      # panel title / variable name / alert name
    raw: str        # as written in the file
    expr: str       # runnable PromQL


def substitute(expr: str, where: str, macros: Optional[Dict[str, str]] = None) -> str:
    """Replace Grafana variables: macros by durations, template variables by `.*`.

    A template variable must sit inside a regex matcher (`label=~"$var"`); anything else would
    not become valid PromQL, so it is reported as an error naming `where`.
    """
    macros = dict(DEFAULT_MACROS, **(macros or {}))

    def repl(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in macros:
            return macros[name]
        before = expr[: match.start()]
        if not re.search(r'=~\s*"[^"]*$', before):
            raise QueryError(f"{where}: template variable ${name} is not inside a "
                             f"=~\"...\" matcher: {expr}")
        return ".*"

    return _VAR.sub(repl, expr)


def _panels(panels: Iterable[dict]) -> Iterable[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # rows


def dashboard_queries(directory: Path = DASHBOARD_DIR, macros: Optional[Dict[str, str]] = None,
                      include_variables: bool = True) -> List[Query]:
    """Every panel target (and, optionally, every label_values variable selector)."""
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        raise QueryError(f"no dashboards (*.json) in {directory}")
    out: List[Query] = []
    for path in files:
        board = json.loads(path.read_text())
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                raw = target.get("expr")
                if not raw:
                    continue
                where = f"{path.name}: panel {panel.get('title')!r} target {target.get('refId')}"
                out.append(Query(path.name, "panel", panel.get("title", ""), raw,
                                 substitute(raw, where, macros)))
        if not include_variables:
            continue
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            query = var.get("query")
            raw = query.get("query") if isinstance(query, dict) else query
            match = _LABEL_VALUES.match(raw or "")
            if not match:
                raise QueryError(f"{path.name}: variable {var.get('name')}: expected "
                                 f"label_values(selector, label), got {raw!r}")
            where = f"{path.name}: variable {var.get('name')}"
            out.append(Query(path.name, "variable", var.get("name", ""), raw,
                             substitute(match.group(1), where, macros)))
    return out


def rule_queries(rule_file: Path = RULES_FILE) -> List[Query]:
    """Every alerting/recording rule expression of a Prometheus rule file."""
    doc = yaml.safe_load(Path(rule_file).read_text())
    out: List[Query] = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            expr = str(rule["expr"]).strip()
            out.append(Query(Path(rule_file).name, "rule", name, expr, expr))
    return out


def metric_names(expr: str) -> Set[str]:
    """Metric names referenced by a PromQL expression (histogram suffixes kept)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    text = re.sub(r"\{[^}]*\}", "", text)                       # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)                      # range / subquery durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def base_metric(name: str) -> str:
    """pharos_x_seconds_bucket → pharos_x_seconds when pharos_x_seconds is a contract histogram."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if CONTRACT_METRICS.get(base) == "histogram":
                return base
    return name


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--rules", action="store_true", help="also print the alert rule expressions")
    parser.add_argument("--dashboards", type=Path, default=DASHBOARD_DIR)
    args = parser.parse_args(argv)
    queries = dashboard_queries(args.dashboards)
    if args.rules:
        queries += rule_queries()
    for q in queries:
        if args.json:
            print(json.dumps(asdict(q)))
        else:
            print(f"{q.source}\t{q.kind}\t{q.title}\t{q.expr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
