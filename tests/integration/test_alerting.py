"""Incidents and notifications of `pharos run` end to end (docs/alerting.md): monitors going
Down and Up against the local target server, every channel type posting to a loopback receiver
that asserts what each service documents, the webhook contract (deliveryId, HMAC signature),
acknowledging and notes through the API with bearer tokens, retries (500 for a while, 429 with
Retry-After), permanent failures (400 recorded with its reason), maintenance windows, and
kill -9 while 50 notifications are pending to a slow receiver: after the restart every one
arrives, a duplicate only with the same deliveryId.

Every wait is a bounded poll; nothing sleeps for synchronisation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import requests

import pharos
from pharos_run import PharosRun

SECRET = "s3cret-hmac-key"
TOKEN = "alice=" + "t0ken-for-acknowledging-incidents"
BEARER = {"Authorization": "Bearer t0ken-for-acknowledging-incidents"}


def http_monitor(name: str, url: str, **alerting) -> dict:
    return pharos.monitor(name, "http", namespace="shop", frequency="10s", timeout="2s",
                          http={"url": url},
                          alerting={"failureThreshold": 1, "successThreshold": 1, **alerting})


def quoted(incident_id: str) -> str:
    """Incident ids of file monitors hold the uid "file:NS/NAME": percent-encode them in paths."""
    return urllib.parse.quote(incident_id, safe="")


def channel(name: str, type_: str, block: dict, **spec) -> dict:
    return {"apiVersion": pharos.API_VERSION, "kind": "AlertChannel",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"type": type_, type_: block, **spec}}


class AlertingRun(PharosRun):
    """`pharos run` with short notification backoffs and a fast alerting loop, so retries and
    reminders happen within a test's time."""

    def __init__(self, workdir: Path, paths: list[Path], extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        super().__init__(workdir, paths, env={"HOOK_SECRET": SECRET, **(env or {})},
                         extra_args=("--notification-backoff", "200ms",
                                     "--notification-backoff-max", "1s",
                                     "--alerting-interval", "500ms", *extra))

    def state(self, name: str) -> str:
        return self.get(f"/api/v1/monitors/shop/{name}").json()["state"]

    def incidents(self, open_only: bool = False) -> list[dict]:
        query = "?open=true" if open_only else ""
        return self.get("/api/v1/incidents" + query).json()["incidents"]


def down_then_up(run: AlertingRun, target, state: str, name: str, receiver, path: str,
                 events: tuple[str, ...] = ("down",)):
    target.set_state(state, 503)
    pharos.wait_for(lambda: run.state(name) == "Down", timeout=30, message=f"{name} Down")


# ------------------------------------------------------------------------------- webhook


def test_webhook_contract_down_and_recovered_with_signature(tmp_path, target, receiver):
    state = "alert-webhook"
    target.set_state(state, 200)
    files = pharos.write_monitors(tmp_path, [
        http_monitor("checkout-api", target.url(f"/state/{state}"), channels=["ops-hook"]),
        channel("ops-hook", "webhook", {"url": receiver.url("/hook"),
                                        "secret": {"valueFrom": {"env": "HOOK_SECRET"}}}),
    ])
    run = AlertingRun(tmp_path, [files])
    try:
        pharos.wait_for(lambda: run.state("checkout-api") == "Up", timeout=30, message="Up")
        target.set_state(state, 503)
        down = receiver.wait_for(lambda r: r.requests("/hook"), message="the down webhook")[0]
        payload = down.json()
        assert payload["event"] == "down"
        assert payload["monitor"] == {"namespace": "shop", "name": "checkout-api", "type": "http",
                                      "target": target.url(f"/state/{state}")}
        assert payload["state"] == "Down"
        assert payload["regions"] == ["local"]
        assert "503" in payload["reason"]
        incident = payload["incident"]
        assert incident["id"] and incident["resolvedAt"] is None
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", incident["startedAt"])
        assert re.fullmatch(r"[0-9a-f]{32}", payload["deliveryId"])
        assert down.header("X-Pharos-Delivery") == payload["deliveryId"]
        assert down.header("X-Pharos-Event") == "down"
        assert down.header("Content-Type") == "application/json"
        expected = "sha256=" + hmac.new(SECRET.encode(), down.body, hashlib.sha256).hexdigest()
        assert down.header("X-Pharos-Signature") == expected
        assert payload["title"] == "[DOWN] shop/checkout-api"

        # The incident, its timeline and the delivery record through the API.
        detail = pharos.wait_for(lambda: (d := run.get(f"/api/v1/incidents/{quoted(incident['id'])}")
                                          .json())["deliveries"] and
                                 d["deliveries"][0]["state"] == "Delivered" and d,
                                 message="the delivery recorded")
        assert detail["phase"] == "Open"
        assert detail["deliveries"][0]["deliveryId"] == payload["deliveryId"]
        assert detail["deliveries"][0]["channel"] == "shop/ops-hook"
        assert any(e["kind"] == "stateChange" for e in detail["timeline"])
        assert SECRET not in json.dumps(detail)

        target.set_state(state, 200)
        recovered = receiver.wait_for(lambda r: len(r.requests("/hook")) >= 2,
                                      message="the recovered webhook")
        payload = receiver.requests("/hook")[1].json()
        assert payload["event"] == "recovered"
        assert payload["state"] == "Up"
        assert payload["incident"]["id"] == incident["id"]
        assert payload["incident"]["resolvedAt"] is not None
        assert payload["deliveryId"] != down.json()["deliveryId"]
        assert recovered
    finally:
        run.stop()
    logs = run.output()
    assert SECRET not in logs


# ------------------------------------------------------------------------ every channel type


def every_channel(receiver) -> list[dict]:
    return [
        channel("slack", "slack", {"url": receiver.url("/slack")}),
        channel("discord", "discord", {"url": receiver.url("/discord")}),
        channel("teams", "msteams", {"url": receiver.url("/teams")}),
        channel("gchat", "googlechat", {"url": receiver.url("/gchat?key=k")}),
        channel("pager", "pagerduty", {"url": receiver.url("/pd/v2/enqueue"),
                                       "routingKey": {"valueFrom": {"env": "PD_KEY"}}}),
        channel("genie", "opsgenie", {"url": receiver.url("/genie"),
                                      "apiKey": {"valueFrom": {"env": "GENIE_KEY"}}}),
        channel("tg", "telegram", {"url": receiver.url("/tg"), "chatId": "-100123",
                                   "botToken": {"valueFrom": {"env": "TG_TOKEN"}}}),
        channel("push", "ntfy", {"url": receiver.url("/ntfy"), "topic": "pharos-alerts",
                                 "token": {"valueFrom": {"env": "NTFY_TOKEN"}}}),
        channel("am", "alertmanager", {"url": receiver.url("/am"), "labels": {"team": "shop"}}),
    ]


def test_every_channel_type_gets_its_documented_payload(tmp_path, target, receiver):
    state = "alert-all"
    target.set_state(state, 200)
    names = ["slack", "discord", "teams", "gchat", "pager", "genie", "tg", "push", "am"]
    files = pharos.write_monitors(tmp_path, [
        http_monitor("payments", target.url(f"/state/{state}"), channels=names),
        *every_channel(receiver),
    ])
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# people who may acknowledge\n{TOKEN}\n")
    env = {"PD_KEY": "pd-routing-key", "GENIE_KEY": "genie-key", "TG_TOKEN": "123:tg-bot-token",
           "NTFY_TOKEN": "tk_ntfy"}
    run = AlertingRun(tmp_path, [files], ("--api-token-file", str(token_file)), env=env)
    try:
        pharos.wait_for(lambda: run.state("payments") == "Up", timeout=30, message="Up")
        target.set_state(state, 503)
        prefixes = ["/slack", "/discord", "/teams", "/gchat", "/pd/", "/genie", "/tg", "/ntfy",
                    "/am"]
        receiver.wait_for(lambda r: all(r.requests(p) for p in prefixes), message="every channel")
        incident_id = run.incidents(open_only=True)[0]["id"]

        slack = receiver.requests("/slack")[0].json()
        assert slack["text"].startswith("[DOWN] shop/payments")
        assert [b["type"] for b in slack["blocks"]][0] == "header"
        assert slack["blocks"][0]["text"] == {"type": "plain_text", "text": "[DOWN] shop/payments"}
        assert any(b["type"] == "section" and b["text"]["type"] == "mrkdwn"
                   for b in slack["blocks"])

        discord = receiver.requests("/discord")[0].json()
        embed = discord["embeds"][0]
        assert embed["title"] == "[DOWN] shop/payments"
        assert embed["color"] == 0xD32F2F
        assert {"name": "Incident", "value": incident_id, "inline": False} in embed["fields"]
        assert discord["allowed_mentions"] == {"parse": []}

        teams = receiver.requests("/teams")[0].json()
        attachment = teams["attachments"][0]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        assert card["body"][0]["text"] == "[DOWN] shop/payments"
        facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
        assert {"title": "Incident", "value": incident_id} in facts

        gchat_request = receiver.requests("/gchat")[0]
        gchat = gchat_request.json()
        assert "key=k" in gchat_request.path
        assert "messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD" in gchat_request.path
        assert gchat["thread"] == {"threadKey": incident_id}
        assert gchat["cardsV2"][0]["card"]["header"]["title"] == "[DOWN] shop/payments"

        pd = receiver.requests("/pd/v2/enqueue")[0].json()
        assert pd["routing_key"] == "pd-routing-key"
        assert pd["event_action"] == "trigger"
        assert pd["dedup_key"] == incident_id
        assert pd["payload"]["severity"] == "critical"
        assert pd["payload"]["summary"].startswith("[DOWN] shop/payments")
        assert pd["payload"]["source"] == target.url(f"/state/{state}")

        genie_request = receiver.requests("/genie")[0]
        assert genie_request.path == "/genie/v2/alerts"
        assert genie_request.header("Authorization") == "GenieKey genie-key"
        genie = genie_request.json()
        assert genie["alias"] == incident_id
        assert genie["priority"] == "P1"
        assert len(genie["message"]) <= 130

        tg_request = receiver.requests("/tg")[0]
        assert tg_request.path == "/tg/bot123:tg-bot-token/sendMessage"
        tg = tg_request.json()
        assert tg["chat_id"] == "-100123" and tg["parse_mode"] == "HTML"
        assert tg["text"].startswith("<b>[DOWN] shop/payments</b>")

        ntfy_request = receiver.requests("/ntfy")[0]
        assert ntfy_request.header("Authorization") == "Bearer tk_ntfy"
        ntfy = ntfy_request.json()
        assert ntfy["topic"] == "pharos-alerts" and ntfy["priority"] == 4
        assert ntfy["title"] == "[DOWN] shop/payments"

        am_request = receiver.requests("/am")[0]
        assert am_request.path == "/am/api/v2/alerts"
        alert = am_request.json()[0]
        assert alert["labels"]["alertname"] == "PharosMonitorDown"
        assert alert["labels"]["incident"] == incident_id
        assert alert["labels"]["team"] == "shop"
        assert alert["labels"]["severity"] == "critical"

        # Writes need a token: none → 401, a wrong one → 401, the right one acknowledges.
        ack = f"/api/v1/incidents/{quoted(incident_id)}/ack"
        assert requests.post(run.base + ack, timeout=5).status_code == 401
        assert requests.post(run.base + ack, headers={"Authorization": "Bearer nope-nope-nope"},
                             timeout=5).status_code == 401
        answer = requests.post(run.base + ack, headers=BEARER, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["phase"] == "Acknowledged"
        note = requests.post(run.base + f"/api/v1/incidents/{quoted(incident_id)}/notes", headers=BEARER,
                             json={"text": "rolling back the deploy"}, timeout=5)
        assert note.status_code == 201, note.text
        timeline = note.json()["timeline"]
        assert {"kind": "acknowledged", "author": "alice"}.items() <= next(
            e for e in timeline if e["kind"] == "acknowledged").items()
        assert any(e["kind"] == "note" and e["text"] == "rolling back the deploy"
                   and e["author"] == "alice" for e in timeline)
        receiver.wait_for(lambda r: len(r.requests("/pd/")) >= 2 and len(r.requests("/genie")) >= 2,
                          message="acknowledgements")
        assert receiver.requests("/pd/")[1].json()["event_action"] == "acknowledge"
        assert receiver.requests("/pd/")[1].json()["dedup_key"] == incident_id
        assert receiver.requests("/genie")[1].path == (
            f"/genie/v2/alerts/{quoted(incident_id)}/acknowledge?identifierType=alias")
        assert receiver.requests("/genie")[1].json()["user"] == "alice"
        assert len(receiver.requests("/am")) == 1  # Alertmanager has no acknowledgement

        target.set_state(state, 200)
        receiver.wait_for(lambda r: len(r.requests("/pd/")) >= 3 and len(r.requests("/am")) >= 2
                          and len(r.requests("/genie")) >= 3 and len(r.requests("/slack")) >= 3,
                          message="recoveries")
        resolve = receiver.requests("/pd/")[2].json()
        assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == incident_id
        assert receiver.requests("/genie")[2].path == (
            f"/genie/v2/alerts/{quoted(incident_id)}/close?identifierType=alias")
        ended = receiver.requests("/am")[1].json()[0]
        assert ended["labels"]["incident"] == incident_id
        assert ended["endsAt"] <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z~"
        slack_texts = [r.json()["text"] for r in receiver.requests("/slack")]
        assert [t.split("]")[0] for t in slack_texts] == ["[DOWN", "[ACKNOWLEDGED", "[RECOVERED"]
    finally:
        run.stop()
    output = run.output()
    for secret in env.values():
        assert secret not in output


def test_writes_are_refused_without_a_token_file(tmp_path, target, receiver):
    files = pharos.write_monitors(tmp_path, [http_monitor("quiet", target.url("/status/200"))])
    run = AlertingRun(tmp_path, [files])
    try:
        answer = requests.post(run.base + "/api/v1/incidents/x/ack", headers=BEARER, timeout=5)
        assert answer.status_code == 403
        assert "--api-token-file" in answer.json()["error"]
        assert run.get("/api/v1/incidents/nope").status_code == 404
    finally:
        run.stop()


def test_an_address_guessing_tokens_is_held_back_with_429(tmp_path, target):
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{TOKEN}\n")
    files = pharos.write_monitors(tmp_path, [http_monitor("quiet", target.url("/status/200"))])
    run = AlertingRun(tmp_path, [files], ("--api-token-file", str(token_file)))
    try:
        ack = run.base + "/api/v1/incidents/x/ack"
        wrong = {"Authorization": "Bearer guess-guess-guess"}
        codes = [requests.post(ack, headers=wrong, timeout=5).status_code for _ in range(10)]
        assert codes == [401] * 10
        # Even the right token waits now: the guard answers before any token is looked at.
        held = requests.post(ack, headers=BEARER, timeout=5)
        assert held.status_code == 429, held.text
        assert 1 <= int(held.headers["Retry-After"]) <= 6
        metrics = run.get("/metrics").text
        assert 'pharos_auth_failures_total{api="incidents"} 10' in metrics
        assert 'pharos_auth_throttled_total{api="incidents"} 1' in metrics
    finally:
        run.stop()


# ------------------------------------------------------------------------------- delivery


def deliveries_of(run: AlertingRun, incident_id: str) -> list[dict]:
    return run.get(f"/api/v1/incidents/{quoted(incident_id)}").json()["deliveries"]


def test_retries_until_the_receiver_recovers_honours_retry_after_and_records_400(
        tmp_path, target, receiver):
    receiver.answer("/flaky", 500, times=4, body='{"error":"busy"}')
    receiver.answer("/limited", 429, times=1, headers={"Retry-After": "2"})
    receiver.answer("/bad", 400, body='{"error":"invalid payload"}')
    for state in ("retry-flaky", "retry-limited", "retry-bad"):
        target.set_state(state, 503)
    files = pharos.write_monitors(tmp_path, [
        http_monitor("flaky", target.url("/state/retry-flaky"), channels=["flaky"]),
        http_monitor("limited", target.url("/state/retry-limited"), channels=["limited"]),
        http_monitor("bad", target.url("/state/retry-bad"), channels=["bad"]),
        channel("flaky", "webhook", {"url": receiver.url("/flaky")}),
        channel("limited", "webhook", {"url": receiver.url("/limited")}),
        channel("bad", "webhook", {"url": receiver.url("/bad")}),
    ])
    run = AlertingRun(tmp_path, [files])
    try:
        # 500 four times, then 200: the same notification, the same deliveryId every time.
        receiver.wait_for(lambda r: any(x.answered == 200 for x in r.requests("/flaky")),
                          message="the flaky receiver to accept")
        flaky = receiver.requests("/flaky")
        assert [x.answered for x in flaky] == [500, 500, 500, 500, 200]
        assert len({x.header("X-Pharos-Delivery") for x in flaky}) == 1
        assert len({x.json()["deliveryId"] for x in flaky}) == 1

        # 429 with Retry-After: 2 — the retry waits at least that (the backoff alone is 200 ms).
        receiver.wait_for(lambda r: len(r.requests("/limited")) >= 2, message="the retry")
        first, second = receiver.requests("/limited")[:2]
        assert second.at - first.at >= 1.9
        assert second.header("X-Pharos-Delivery") == first.header("X-Pharos-Delivery")

        # 400: failed at once, with the receiver's reason, never retried.
        incidents = {i["name"]: i["id"] for i in pharos.wait_for(
            lambda: len(run.incidents()) == 3 and run.incidents(), message="three incidents")}
        bad = pharos.wait_for(lambda: [d for d in deliveries_of(run, incidents["bad"])
                                       if d["state"] == "Failed"], message="the 400 recorded")[0]
        assert bad["attempts"] == 1
        assert "HTTP 400" in bad["lastError"] and "invalid payload" in bad["lastError"]
        assert len(receiver.requests("/bad")) == 1
        timeline = run.get(f"/api/v1/incidents/{quoted(incidents['bad'])}").json()["timeline"]
        assert any(e["kind"] == "notification" and "failed" in e["text"] for e in timeline)
        flaky_record = pharos.wait_for(lambda: [d for d in deliveries_of(run, incidents["flaky"])
                                                if d["state"] == "Delivered"],
                                       message="the flaky delivery recorded")[0]
        assert flaky_record["attempts"] == 5

        metrics = run.get("/metrics").text
        assert re.search(r'pharos_notifications_total\{channel="shop/flaky",type="webhook",'
                         r'event="down",outcome="retry"\} 4', metrics), metrics[-3000:]
        assert re.search(r'pharos_notifications_total\{channel="shop/bad",type="webhook",'
                         r'event="down",outcome="failed"\} 1', metrics)
        assert "pharos_notification_queue_depth 0" in metrics
        assert "pharos_notification_delivery_seconds_bucket" in metrics
    finally:
        run.stop()


def test_kill_9_with_50_notifications_pending_to_a_slow_receiver(tmp_path, target, receiver):
    target.set_state("crash", 503)
    receiver.delay = 0.5
    monitors = [http_monitor(f"svc-{i:02d}", target.url("/state/crash"), channels=["slow"])
                for i in range(50)]
    files = pharos.write_monitors(tmp_path, [
        *monitors, channel("slow", "webhook", {"url": receiver.url("/slow")})])
    run = AlertingRun(tmp_path, [files])
    try:
        pharos.wait_for(lambda: len(run.incidents(open_only=True)) == 50, timeout=40,
                        message="50 incidents")
        receiver.wait_for(lambda r: len(r.requests("/slow")) >= 3, message="the first deliveries")
        assert len(receiver.requests("/slow")) < 50, "too fast to kill mid-delivery"
    finally:
        run.kill()
    received_before = len(receiver.requests("/slow"))
    receiver.delay = 0
    restarted = AlertingRun(tmp_path, [files])
    try:
        receiver.wait_for(lambda r: len({x.header("X-Pharos-Delivery")
                                         for x in r.requests("/slow")}) >= 50,
                          timeout=60, message="all 50 notifications")
        got = receiver.requests("/slow")
        ids = Counter(x.header("X-Pharos-Delivery") for x in got)
        incidents = {x.json()["incident"]["id"] for x in got}
        assert len(ids) == 50 and len(incidents) == 50
        # One channel, one delivery in flight when killed: at most one arrives twice, and then
        # with the same deliveryId.
        assert len(got) <= 51, (received_before, ids.most_common(3))
        assert all(count <= 2 for count in ids.values())
        assert all(x.json()["event"] == "down" for x in got)
        pharos.wait_for(lambda: "pharos_notification_queue_depth 0" in restarted.get("/metrics").text,
                        message="the outbox to empty")
    finally:
        restarted.stop()


# ------------------------------------------------------------------------- maintenance


def window(name: str, monitors: list[str], start: str, end: str) -> dict:
    return {"apiVersion": pharos.API_VERSION, "kind": "MaintenanceWindow",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"start": start, "end": end, "monitors": monitors,
                     "description": "database upgrade"}}


def iso(offset_seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def test_maintenance_window_suppresses_then_degraded_notifies_without_incident(
        tmp_path, target, receiver):
    target.set_state("maint", 503)
    slow = target.url("/slow/first-byte?ms=400")
    documents = [
        http_monitor("db", target.url("/state/maint"), channels=["hook"]),
        pharos.monitor("search", "http", namespace="shop", frequency="10s", timeout="2s",
                       degradedAfter="100ms", http={"url": slow},
                       alerting={"failureThreshold": 1, "channels": ["hook"]}),
        channel("hook", "webhook", {"url": receiver.url("/hook")}),
        window("db-upgrade", ["db"], iso(-60), iso(3600)),
    ]
    files = pharos.write_monitors(tmp_path, documents)
    run = AlertingRun(tmp_path, [files])
    try:
        pharos.wait_for(lambda: run.state("db") == "Maintenance", timeout=20,
                        message="db in Maintenance")
        # Checks go on and are stored; the failing target opens no incident.
        pharos.wait_for(lambda: run.get("/api/v1/monitors/shop/db/results").json()["results"],
                        timeout=30, message="results stored during the window")
        degraded = receiver.wait_for(lambda r: r.requests("/hook"), message="degraded")[0].json()
        assert degraded["event"] == "degraded"
        assert degraded["monitor"]["name"] == "search"
        assert degraded["incident"] is None
        assert run.state("db") == "Maintenance"
        assert [i for i in run.incidents() if i["name"] == "db"] == []
        metrics = run.get("/metrics").text
        assert 'pharos_monitor_state{namespace="shop",monitor="db",state="Maintenance"} 1' in metrics

        # The window ends (the file changes): decided afresh, the outage is told.
        documents[-1] = window("db-upgrade", ["db"], iso(-3600), iso(-60))
        pharos.write_monitors(tmp_path, documents)
        down = receiver.wait_for(lambda r: [x for x in r.requests("/hook")
                                            if x.json()["event"] == "down"],
                                 timeout=40, message="down after the window")[0].json()
        assert down["monitor"]["name"] == "db"
        assert all(x.json()["monitor"]["name"] == "search" for x in receiver.requests("/hook")
                   if x.json()["event"] == "degraded")
    finally:
        run.stop()


# ------------------------------------------------------------------------------- bad input


def test_validate_reports_bad_channels_and_windows_and_warns_on_missing_channels(tmp_path):
    bad = pharos.write_monitors(tmp_path, """\
apiVersion: pharos.dev/v1alpha1
kind: Monitor
metadata: {name: api, namespace: shop}
spec:
  type: http
  http: {url: "https://shop.example.com/health"}
  alerting: {channels: [hook, pager]}
---
apiVersion: pharos.dev/v1alpha1
kind: AlertChannel
metadata: {name: hook, namespace: shop}
spec:
  type: webhok
---
apiVersion: pharos.dev/v1alpha1
kind: AlertChannel
metadata: {name: chat, namespace: shop}
spec:
  type: slack
  slack: {url: "hooks.slack.com/services/x"}
  template: {title: "{{ monitor.nam }} down"}
---
apiVersion: pharos.dev/v1alpha1
kind: MaintenanceWindow
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 25 * * *"
  duration: 1h
  timeZone: Europe/Nowhere
  monitors: [api]
""", "bad.yaml")
    done = pharos.run([pharos.required_binary("pharos"), "validate", bad])
    assert done.returncode == 2, done.describe()
    err = done.stderr
    assert f"{bad}:13:9: spec.type: must be one of webhook" in err
    assert 'did you mean "webhook"?' in err
    assert f"{bad}:20:16: spec.slack.url: must be an absolute URL" in err
    assert f"{bad}:21:21: spec.template.title: unknown placeholder {{{{ monitor.nam }}}}" in err
    assert err.index("spec.slack.url") < err.index("spec.template.title")
    assert f"{bad}:29:13: spec.timeZone: unknown time zone \"Europe/Nowhere\"" in err

    good = pharos.write_monitors(tmp_path, [
        http_monitor("api", "https://shop.example.com/health", channels=["hook", "pager"]),
        channel("hook", "webhook", {"url": "https://hooks.example.com/x"}),
    ], "good.yaml")
    done = pharos.run([pharos.required_binary("pharos"), "validate", good])
    assert done.returncode == 0, done.describe()
    assert "1 monitor, 1 alert channel in 1 file: valid" in done.stdout
    assert 'warning: ' in done.stderr and 'names AlertChannel "pager", which does not exist' \
        in done.stderr

    # `pharos run` refuses the bad files before opening anything.
    refused = pharos.run([pharos.required_binary("pharos"), "run", "--db",
                          tmp_path / "never.db", bad], timeout=30)
    assert refused.returncode == 2 and "nothing was started" in refused.stderr
    assert not (tmp_path / "never.db").exists()
