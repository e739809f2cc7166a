"""Alerting in pharos-operator on a real kube-apiserver + etcd + kube-controller-manager
(tests/k8s): the Incident, AlertChannel and MaintenanceWindow CRDs (and what they refuse), an
incident's whole life (a Monitor going Down creates an Incident owned by it with the delivery
record in its status, `kubectl annotate inc ... pharos.dev/acknowledged-by=` acknowledges it, Up
resolves it, deleting the Monitor garbage-collects it), secrets read from a Secret the chart's
RBAC names, the pharos.dev/test annotation, a Warning Event for a missing channel, maintenance
windows, and kill -9 of the leader while deliveries are pending: the standby continues them from
the Incidents' status, every notification arrives, a duplicate only with the same deliveryId.

The operators run as system:serviceaccount:pharos-system:pharos-operator with the chart's RBAC
(rendered with alerting.secretNames=[hook-secret]). Every wait is a bounded poll.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import sys
from pathlib import Path

import pytest

from pharos import wait_for
from receivers import NotificationReceiver
from target_server import TargetServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import NS, Env, chart_rbac_with, pharos_env  # noqa: E402


REGION = "eu-west"
HOOK_SECRET = "e2e-hook-signing-secret"
CRDS = ["monitors", "incidents", "alertchannels", "maintenancewindows"]


def monitor(env: Env, name: str, channels: list[str], **alerting) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
            "spec": {"type": "http", "frequency": "10s", "timeout": "2s", "regions": [REGION],
                     "http": {"url": env.target.url(f"/state/{name}")},
                     "alerting": {"failureThreshold": 1, "successThreshold": 1,
                                  "channels": channels, **alerting}}}


def webhook(name: str, url: str, secret: bool = False) -> dict:
    block = {"url": url}
    if secret:
        block["secret"] = {"valueFrom": {"secretKeyRef": {"name": "hook-secret", "key": "secret"}}}
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "AlertChannel",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "webhook", "webhook": block}}


def incident_of(env: Env, monitor_name: str) -> dict | None:
    items = env.kubectl_json("get", "incidents", "-n", NS, "-l",
                             f"pharos.dev/monitor={monitor_name}")["items"]
    return items[0] if items else None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with TargetServer() as target, \
            pharos_env(tmp_path_factory.mktemp("alerting-e2e"),
                       chart_rbac_with("alerting.secretNames={hook-secret}"), target=target,
                       controller_manager=True) as e:
        e.kubectl("-n", NS, "create", "secret", "generic", "hook-secret",
                  f"--from-literal=secret={HOOK_SECRET}")
        e.kubectl("-n", NS, "create", "secret", "generic", "not-granted",
                  "--from-literal=secret=nope")
        fast = ("--notification-backoff", "300ms", "--notification-backoff-max", "1s",
                "--alerting-interval", "1s")
        for identity in ("op-a", "op-b"):
            op = e.start_operator(identity, *fast, regions=False)
            e.start_probe(f"probe-{identity}", op, REGION)
        yield e


@pytest.fixture(scope="module")
def receiver():
    with NotificationReceiver() as server:
        yield server


# --------------------------------------------------------------------------------- CRDs


def test_crds_refuse_malformed_channels_and_windows(env):
    bad_type = {"apiVersion": "pharos.dev/v1alpha1", "kind": "AlertChannel",
                "metadata": {"name": "bad-type", "namespace": NS},
                "spec": {"type": "carrier-pigeon"}}
    r = env.kubectl("apply", "-f", "-", input=json.dumps(bad_type), check=False)
    assert r.returncode != 0 and "Unsupported value: \"carrier-pigeon\"" in r.stderr, r.stderr
    no_block = {"apiVersion": "pharos.dev/v1alpha1", "kind": "AlertChannel",
                "metadata": {"name": "no-block", "namespace": NS}, "spec": {"type": "slack"}}
    r = env.kubectl("apply", "-f", "-", input=json.dumps(no_block), check=False)
    assert r.returncode != 0 and "type slack requires spec.slack" in r.stderr, r.stderr
    window = {"apiVersion": "pharos.dev/v1alpha1", "kind": "MaintenanceWindow",
              "metadata": {"name": "backwards", "namespace": NS},
              "spec": {"start": "2026-12-20T23:00:00Z", "end": "2026-12-20T22:00:00Z",
                       "monitors": ["x"]}}
    r = env.kubectl("apply", "-f", "-", input=json.dumps(window), check=False)
    assert r.returncode != 0 and "end must be after start" in r.stderr, r.stderr


def test_channels_are_validated_by_the_operator_and_tested_by_annotation(env, receiver):
    env.apply(webhook("hook", receiver.url("/hook"), secret=True),
              {"apiVersion": "pharos.dev/v1alpha1", "kind": "AlertChannel",
               "metadata": {"name": "broken", "namespace": NS},
               "spec": {"type": "webhook", "webhook": {"url": "not a url"}}})

    def condition(name: str, kind: str = "Ready") -> dict | None:
        obj = env.kubectl_json("get", "alertchannel", name, "-n", NS)
        for c in (obj.get("status") or {}).get("conditions", []):
            if c["type"] == kind:
                return c
        return None
    ready = wait_for(lambda: condition("hook"), timeout=30, message="hook Ready")
    assert ready["status"] == "True"
    broken = wait_for(lambda: condition("broken"), timeout=30, message="broken Ready")
    assert broken["status"] == "False" and "spec.webhook.url: must be an absolute URL" in \
        broken["message"]
    printed = env.kubectl("get", "alertchannels", "-n", NS).stdout
    assert "hook" in printed and "webhook" in printed

    env.kubectl("annotate", "alertchannel", "hook", "-n", NS, "pharos.dev/test=first")
    test = receiver.wait_for(lambda r: [x for x in r.requests("/hook")
                                        if x.json()["event"] == "test"], timeout=30,
                             message="the test notification")[0]
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), test.body, hashlib.sha256).hexdigest()
    assert test.header("X-Pharos-Signature") == expected
    wait_for(lambda: (env.kubectl_json("get", "alertchannel", "hook", "-n", NS).get("status")
                      or {}).get("lastTest") == "first", timeout=30, message="lastTest")
    assert HOOK_SECRET not in json.dumps(env.kubectl_json("get", "alertchannel", "hook", "-n", NS))


# ----------------------------------------------------------------------------- incidents


def test_incident_lifecycle_down_ack_up_and_garbage_collection(env, receiver):
    env.target.set_state("checkout", 200)
    env.apply(monitor(env, "checkout", ["hook", "missing-one"]))
    env.wait_status("checkout", lambda s: s.get("state") == "Up", what="Up")
    warned = wait_for(lambda: env.events("checkout", "AlertChannelMissing"), timeout=30,
                      message="the AlertChannelMissing event")
    assert "missing-one" in warned[0]["message"]

    env.target.set_state("checkout", 503)
    incident = wait_for(lambda: incident_of(env, "checkout"), timeout=40, message="an Incident")
    owner = incident["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Monitor" and owner["name"] == "checkout"
    assert owner["uid"] == env.monitor_object("checkout")["metadata"]["uid"]
    name = incident["metadata"]["name"]
    down = receiver.wait_for(lambda r: [x for x in r.requests("/hook")
                                        if x.json()["event"] == "down"], timeout=30,
                             message="the down webhook")[0].json()
    assert down["incident"]["id"] == incident["spec"]["incidentId"]
    assert down["monitor"] == {"namespace": NS, "name": "checkout", "type": "http",
                               "target": env.target.url("/state/checkout")}

    def delivered(event: str):
        obj = env.kubectl_json("get", "incident", name, "-n", NS)
        return [d for d in (obj.get("status") or {}).get("deliveries", [])
                if d["event"] == event and d["state"] == "Delivered"]
    record = wait_for(lambda: delivered("down"), timeout=30, message="the delivery record")[0]
    assert record["deliveryId"] == down["deliveryId"] and record["channel"] == f"{NS}/hook"
    columns = env.kubectl("get", "inc", "-n", NS).stdout
    assert "MONITOR" in columns and "PHASE" in columns and "checkout" in columns
    assert "Open" in columns

    env.kubectl("annotate", "inc", name, "-n", NS, "pharos.dev/acknowledged-by=alice")
    wait_for(lambda: (env.kubectl_json("get", "incident", name, "-n", NS).get("status") or {})
             .get("phase") == "Acknowledged", timeout=30, message="Acknowledged")
    ack = receiver.wait_for(lambda r: [x for x in r.requests("/hook")
                                       if x.json()["event"] == "acknowledged"], timeout=30,
                            message="the acknowledged webhook")[0].json()
    assert ack["acknowledgedBy"] == "alice"

    env.target.set_state("checkout", 200)
    resolved = wait_for(lambda: (s := (env.kubectl_json("get", "incident", name, "-n", NS)
                                       .get("status") or {})).get("phase") == "Resolved" and s,
                        timeout=40, message="Resolved")
    assert resolved["resolvedAt"]
    kinds = [e["kind"] for e in resolved["timeline"]]
    assert "stateChange" in kinds and "acknowledged" in kinds
    receiver.wait_for(lambda r: [x for x in r.requests("/hook")
                                 if x.json()["event"] == "recovered"], timeout=30,
                      message="the recovered webhook")

    env.kubectl("delete", "monitor", "checkout", "-n", NS)
    wait_for(lambda: env.kubectl("get", "incident", name, "-n", NS, check=False).returncode != 0,
             timeout=60, message="the Incident garbage-collected with its Monitor")


def test_maintenance_window_resource_puts_monitors_in_maintenance(env, receiver):
    env.target.set_state("batch", 503)
    env.apply({"apiVersion": "pharos.dev/v1alpha1", "kind": "MaintenanceWindow",
               "metadata": {"name": "nightly", "namespace": NS},
               "spec": {"schedule": "* * * * *", "duration": "2h", "timeZone": "Europe/Berlin",
                        "selector": {"matchLabels": {"app": "batch"}}}},
              monitor(env, "batch", ["hook"]))
    env.wait_status("batch", lambda s: s.get("state") == "Maintenance", timeout=40,
                    what="Maintenance")
    assert incident_of(env, "batch") is None
    env.kubectl("delete", "maintenancewindow", "nightly", "-n", NS)
    wait_for(lambda: incident_of(env, "batch"), timeout=40, message="the incident after")
    env.kubectl("delete", "monitor", "batch", "-n", NS)


# --------------------------------------------------------------------------- fail-over


def test_leader_killed_mid_delivery_the_standby_delivers_everything(env, receiver):
    receiver.answer("/crash", 500)  # the receiver is down until the leader is gone
    names = [f"svc-{i}" for i in range(5)]
    for name in names:
        env.target.set_state(name, 503)
    env.apply(webhook("crash", receiver.url("/crash")), *[monitor(env, n, ["crash"]) for n in names])
    leader = env.leader()
    wait_for(lambda: all(incident_of(env, n) for n in names), timeout=60, message="5 incidents")

    def pending_recorded():
        pending = [d for n in names
                   for d in ((incident_of(env, n) or {}).get("status") or {}).get("deliveries", [])
                   if d["state"] == "Pending"]
        # One channel sends one at a time, oldest first: the others wait behind the first.
        return len(pending) == 5 and any(d["attempts"] >= 1 for d in pending)
    wait_for(pending_recorded, timeout=60, message="5 deliveries pending, one being retried")
    leader.process.stop(signal.SIGKILL)
    receiver.clear("/crash")
    standby = wait_for(lambda: env.lease_holder() not in ("", leader.identity)
                       and env.lease_holder(), timeout=60, message="the standby leading")

    def all_delivered():
        ok = {x.header("X-Pharos-Delivery") for x in receiver.requests("/crash")
              if x.answered == 200}
        return len(ok) == 5
    receiver.wait_for(lambda r: all_delivered(), timeout=90, message="all 5 after the take-over")
    accepted = [x for x in receiver.requests("/crash") if x.answered == 200]
    ids = [x.header("X-Pharos-Delivery") for x in accepted]
    assert len(set(ids)) == 5
    assert len(accepted) <= 6, ids  # one channel: at most one duplicate, with the same id
    incidents = {x.json()["incident"]["id"] for x in accepted}
    assert incidents == {incident_of(env, n)["spec"]["incidentId"] for n in names}
    # The new leader recorded them in the Incidents the old one created.
    wait_for(lambda: all(
        [d for d in (incident_of(env, n).get("status") or {}).get("deliveries", [])
         if d["state"] == "Delivered"] for n in names), timeout=30, message="delivered records")
    assert standby != leader.identity
