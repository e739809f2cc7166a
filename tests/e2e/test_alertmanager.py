"""The chart's PharosMonitorDown alert travels through a real Prometheus and a real Alertmanager
(Debian `prometheus`, `prometheus-alertmanager`) to a webhook, firing and then resolved.

Set-up (all on 127.0.0.1, stopped by PID at the end): the local target server; `pharos run` with
two Monitors in namespace `shop` checked every 10 s: `checkout` (the target's switchable
/state/{name}) and `catalog` (always 200); Prometheus scraping the operator like the chart's
ServiceMonitor (honor_labels) and evaluating the chart's rule file every second; Alertmanager
routing everything to a webhook receiver in this test, with send_resolved: true.

The rule file Prometheus loads is charts/pharos/files/rules/pharos-alerts.yaml with one change:
`for: 1m` of PharosMonitorDown becomes `for: 5s`, so that firing and resolving take seconds
rather than minutes and the file stays well under its time budget. Expressions, labels and
annotations are the chart's own (checked below); the `for` durations themselves are covered by
tests/e2e/rules_test.yaml (`promtool test rules`, test_alert_rules.py).
"""

from __future__ import annotations

import copy
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
import prometheus as prom  # noqa: E402
from target_server import TargetServer  # noqa: E402

NAMESPACE = "shop"
ALERT = "PharosMonitorDown"
TEST_FOR = "5s"
STATE_NAME = "promtest-checkout"
NOTIFY_TIMEOUT = 75  # seconds for a notification to reach the webhook


class WebhookReceiver:
    """An Alertmanager webhook receiver: records every POSTed JSON body. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {"unparsable": raw.decode(errors="replace")}
                with receiver._lock:
                    receiver._bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def bodies(self) -> list[dict]:
        with self._lock:
            return list(self._bodies)

    def alerts(self, status: str, **labels: str) -> list[dict]:
        """Alerts of every notification so far with this status and these labels."""
        return [alert for body in self.bodies() for alert in body.get("alerts", [])
                if alert.get("status") == status
                and all(alert["labels"].get(k) == v for k, v in labels.items())]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def rules_with_short_for(directory: Path) -> Path:
    """The chart's rule file with PharosMonitorDown's `for` shortened to TEST_FOR."""
    doc = yaml.safe_load(prom.RULES_FILE.read_text())
    changed = copy.deepcopy(doc)
    found = 0
    for group in changed["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                rule["for"] = TEST_FOR
                found += 1
    assert found == 1, f"{prom.RULES_FILE} has {found} {ALERT} rules"
    path = directory / "pharos-alerts-test.yaml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alertmanager")
    started: list = []
    target = webhook = None
    try:
        for name in ("prometheus", "promtool", "prometheus-alertmanager"):
            prom.tool(name)
        target = TargetServer().start()
        target.set_state(STATE_NAME, 200)
        webhook = WebhookReceiver()
        monitors = pharos.write_monitors(tmp, [
            pharos.monitor(name, "http", namespace=NAMESPACE, frequency="10s", timeout="3s",
                           alerting={"failureThreshold": 1, "successThreshold": 1},
                           http={"url": target.url(path)})
            for name, path in (("checkout", f"/state/{STATE_NAME}"), ("catalog", "/status/200"))
        ])
        run = prom.PharosRun([monitors], target.ca_file, tmp / "run")
        started.append(run)
        alertmanager = prom.Alertmanager({
            "route": {"receiver": "webhook", "group_by": ["alertname", "namespace", "monitor"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "webhook", "webhook_configs": [
                {"url": webhook.url, "send_resolved": True}]}],
        }, workdir=tmp / "alertmanager")
        started.append(alertmanager)
        prometheus = prom.Prometheus({
            "global": {"scrape_interval": "2s", "evaluation_interval": "1s"},
            "alerting": {"alertmanagers": [{"static_configs": [
                {"targets": [alertmanager.address]}]}]},
            "scrape_configs": prom.chart_scrape_configs(run.address, {}, "2s"),
        }, rule_files=[rules_with_short_for(tmp)], workdir=tmp / "prometheus")
        started.append(prometheus)
        prometheus.wait_targets_up(1)
        run.wait_states({"checkout": "Up", "catalog": "Up"})
    except (prom.ToolMissing, FileNotFoundError) as error:
        _stop(started, target, webhook)
        pytest.fail(str(error), pytrace=False)
    except BaseException:
        _stop(started, target, webhook)
        raise
    yield {"target": target, "webhook": webhook, "run": run, "prometheus": prometheus,
           "alertmanager": alertmanager, "services": started}
    _stop(started, target, webhook)


def _stop(services, target, webhook) -> None:
    for service in reversed(services):
        service.stop()
    if webhook:
        webhook.stop()
    if target:
        target.stop()


def _diagnostics(stack) -> str:
    return (f"webhook bodies: {json.dumps(stack['webhook'].bodies(), indent=1)[-6000:]}\n"
            f"prometheus alerts: {stack['prometheus'].alerts()}\n"
            + "\n".join(service.output(3000) for service in stack["services"]))


def _wait_notification(stack, status: str) -> dict:
    webhook = stack["webhook"]
    try:
        alerts = pharos.wait_for(
            lambda: webhook.alerts(status, alertname=ALERT, monitor="checkout"),
            timeout=NOTIFY_TIMEOUT, interval=0.25, message=f"a {status} {ALERT} notification")
    except TimeoutError as error:
        pytest.fail(f"{error}\n{_diagnostics(stack)}", pytrace=False)
    return alerts[0]


def test_rendered_rules_differ_only_in_the_for_duration(tmp_path):
    original = yaml.safe_load(prom.RULES_FILE.read_text())
    rendered = yaml.safe_load(rules_with_short_for(tmp_path).read_text())
    for group in rendered["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                assert rule["for"] == TEST_FOR
                rule["for"] = "1m"
    assert rendered == original


def test_monitor_down_fires_and_resolves_through_alertmanager(stack):
    target, webhook, run = stack["target"], stack["webhook"], stack["run"]
    assert not webhook.alerts("firing", alertname=ALERT), \
        f"{ALERT} fired while every monitor was Up: {webhook.bodies()}"

    target.set_state(STATE_NAME, 503)
    run.wait_states({"checkout": "Down", "catalog": "Up"})
    firing = _wait_notification(stack, "firing")
    labels = firing["labels"]
    assert labels == {"alertname": ALERT, "namespace": NAMESPACE, "monitor": "checkout",
                      "severity": "critical"}, labels
    annotations = firing["annotations"]
    assert annotations["summary"] == f"Monitor {NAMESPACE}/checkout is Down", annotations
    assert f"kubectl -n {NAMESPACE} describe mon checkout" in annotations["description"]
    assert annotations["runbook_url"].endswith("docs/alerts.md#pharosmonitordown")
    assert firing["generatorURL"].startswith(stack["prometheus"].base)
    body = next(b for b in webhook.bodies() if firing in b.get("alerts", []))
    assert body["receiver"] == "webhook" and body["status"] == "firing", body
    assert body["externalURL"].rstrip("/") == stack["alertmanager"].base, body
    assert body["groupLabels"] == {"alertname": ALERT, "namespace": NAMESPACE,
                                   "monitor": "checkout"}, body
    assert not webhook.alerts("firing", alertname=ALERT, monitor="catalog")
    in_alertmanager = [a for a in stack["alertmanager"].alerts()
                       if a["labels"].get("alertname") == ALERT]
    assert [a["labels"]["monitor"] for a in in_alertmanager] == ["checkout"], in_alertmanager

    target.set_state(STATE_NAME, 200)
    run.wait_states({"checkout": "Up"})
    resolved = _wait_notification(stack, "resolved")
    assert resolved["labels"] == labels, resolved
    assert resolved["startsAt"] == firing["startsAt"], (firing, resolved)
    assert not resolved["endsAt"].startswith("0001"), resolved
