"""No secret leaks from pharos-operator and its probes (issue #16, "Secrets and access"); the
Kubernetes edition of tests/integration/test_secret_leaks.py, on a real kube-apiserver + etcd.

Known random secret values: the probe token (a pharos-probe with the right one and one with a
wrong one), the operator's kubeconfig token (and a second operator whose kubeconfig carries a
wrong one, so the API server answers 401), push tokens (a push Monitor whose token comes from a
Secret, pinged with it and with a wrong one), bearer tokens sent to the operator's API (the
Kubernetes edition has no API tokens: they must be ignored, not echoed), and notification channel
secrets read from a Secret (a webhook whose URL carries a token and whose HMAC secret is in the
Secret, refused twice with 500 and then delivered; a second webhook whose URL, with a token,
points at a closed port, so every delivery fails and is logged). After exercising them, no log
line (operators, probes), Kubernetes Event, Monitor/Incident/AlertChannel object (status
included) or answer of the operator's HTTP API may contain any of the values.

The operator runs as system:serviceaccount:pharos-system:pharos-operator with the chart's RBAC
(rendered to grant the two Secrets). Every wait is a bounded poll.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pharos
from pharos import wait_for
from receivers import NotificationReceiver
from secret_leaks import assert_no_leaks, known_secrets
from target_server import TargetServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import NS, chart_rbac_with, pharos_env, start_process  # noqa: E402

REGION = "eu-west"
SECRETS = known_secrets("probe-token", "wrong-probe-token", "wrong-kube-token", "push-token",
                        "wrong-push-token", "bearer-token", "hook-url-token", "hook-hmac",
                        "dead-url-token")


def request(url: str, method: str = "GET", token: str = "") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, reply.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def from_secret(key: str) -> dict:
    return {"valueFrom": {"secretKeyRef": {"name": "hooks", "key": key}}}


def test_no_secret_in_logs_events_statuses_or_answers(tmp_path):
    rbac = chart_rbac_with("alerting.secretNames={hooks}", "pushMonitors.secretNames={job-token}")
    with TargetServer() as target, NotificationReceiver() as receiver, \
            pharos_env(tmp_path, rbac, target=target) as env:
        cp = env.cp
        secrets = {**SECRETS, "kubeconfig-token": cp.operator_token}
        dead_port = pharos.free_port("tcp")
        cp.kubectl("-n", NS, "create", "secret", "generic", "hooks",
                   "--from-literal=url=" + receiver.url("/hook?token=" + SECRETS["hook-url-token"]),
                   "--from-literal=hmac=" + SECRETS["hook-hmac"],
                   f"--from-literal=dead=http://127.0.0.1:{dead_port}/dead?token="
                   + SECRETS["dead-url-token"])
        cp.kubectl("-n", NS, "create", "secret", "generic", "job-token",
                   "--from-literal=token=" + SECRETS["push-token"])
        env.token_file.write_text(SECRETS["probe-token"] + "\n")
        (tmp_path / "wrong-token").write_text(SECRETS["wrong-probe-token"] + "\n")
        wrong_kubeconfig = tmp_path / "kubeconfig-wrong"
        wrong_kubeconfig.write_text(Path(cp.kubeconfig_operator).read_text().replace(
            cp.operator_token, SECRETS["wrong-kube-token"]))
        assert SECRETS["wrong-kube-token"] in wrong_kubeconfig.read_text()
        try:
            op = env.start_operator("op-a", "--notification-backoff", "200ms",
                                    "--notification-backoff-max", "1s",
                                    "--alerting-interval", "1s", leader_elect=False,
                                    regions=False)
            env.start_probe("probe-good", op, REGION)
            bad_probe = start_process("probe-bad", [
                pharos.binary("pharos-probe"), "--operator", op.url, "--region", REGION,
                "--token-file", tmp_path / "wrong-token", "--name", "probe-bad",
                "--listen", "127.0.0.1:0", "--log-format", "json"], tmp_path)
            env.processes.append(bad_probe)
            bad_op = start_process("op-wrong-kube-token", [
                pharos.binary("pharos-operator"), "--kubeconfig", wrong_kubeconfig,
                "--namespace", NS, "--listen", "127.0.0.1:0", "--db", tmp_path / "bad.db",
                "--identity", "op-wrong-kube-token", "--probe-token-file", env.token_file,
                "--log-format", "json"], tmp_path)
            env.processes.append(bad_op)

            target.set_state("leaky", 200)
            env.apply(
                {"apiVersion": "pharos.dev/v1alpha1", "kind": "AlertChannel",
                 "metadata": {"name": "hook", "namespace": NS},
                 "spec": {"type": "webhook", "webhook": {"url": from_secret("url"),
                                                         "secret": from_secret("hmac")}}},
                {"apiVersion": "pharos.dev/v1alpha1", "kind": "AlertChannel",
                 "metadata": {"name": "dead", "namespace": NS},
                 "spec": {"type": "webhook", "webhook": {"url": from_secret("dead")}}},
                {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
                 "metadata": {"name": "leaky", "namespace": NS},
                 "spec": {"type": "http", "frequency": "10s", "timeout": "2s",
                          "regions": [REGION], "http": {"url": target.url("/state/leaky")},
                          "alerting": {"failureThreshold": 1, "successThreshold": 1,
                                       "channels": ["hook", "dead"]}}},
                {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
                 "metadata": {"name": "job", "namespace": NS},
                 "spec": {"type": "push", "push": {
                     "expectEvery": "1h", "tokenFrom": {"secretKeyRef": {
                         "name": "job-token", "key": "token"}}}}})
            env.wait_status("leaky", lambda s: s.get("state") == "Up", what="Up")

            # A failing check: Down, an Incident, the webhook refused twice then delivered, the
            # dead channel failing (logged, recorded on the Incident).
            receiver.answer("/hook", 500, times=2)
            target.set_state("leaky", 500)
            env.wait_status("leaky", lambda s: s.get("state") == "Down", what="Down")
            receiver.wait_for(lambda r: len(r.requests("/hook")) >= 3, timeout=30,
                              message="the webhook delivered after two 500s")
            wait_for(lambda: any(line.get("channel") == f"{NS}/dead" and line.get("reason")
                                 for line in op.process.json_lines()),
                     timeout=30, message="a logged failure of the dead channel")

            # Push pings with the Secret's token and a wrong one.
            def ping(token: str, suffix: str = "") -> int:
                return request(f"{op.url}/api/v1/push/{token}{suffix}", "POST")[0]
            wait_for(lambda: ping(SECRETS["push-token"]) == 200, timeout=30,
                     message="the Secret's push token accepted")
            assert ping(SECRETS["wrong-push-token"]) == 404
            assert ping(SECRETS["push-token"], "/fail") == 200
            env.wait_status("job", lambda s: s.get("state") == "Down", what="Down after /fail")

            # The wrong probe token was refused, the wrong kubeconfig token too.
            wait_for(lambda: "401" in bad_probe.log(), timeout=30,
                     message="the probe with a wrong token refused")
            wait_for(lambda: "401" in bad_op.log() or "Unauthorized" in bad_op.log(),
                     timeout=30, message="the operator with a wrong kubeconfig token refused")

            # Everything the API answers, with bearer tokens it must ignore.
            incidents = env.kubectl_json("get", "incidents", "-n", NS)["items"]
            assert incidents, "an Incident for the Down monitor"
            incident_id = urllib.parse.quote(incidents[0]["metadata"]["name"], safe="")
            answers = {}
            for method, path in (
                    ("GET", "/api/v1/monitors"), ("GET", f"/api/v1/monitors/{NS}/leaky"),
                    ("GET", f"/api/v1/monitors/{NS}/job"),
                    ("GET", f"/api/v1/monitors/{NS}/leaky/results?limit=200"),
                    ("GET", f"/api/v1/monitors/{NS}/job/results?limit=200"),
                    ("GET", "/api/v1/incidents"), ("GET", f"/api/v1/incidents/{incident_id}"),
                    ("POST", f"/api/v1/incidents/{incident_id}/ack"),
                    ("GET", "/metrics"), ("GET", "/readyz"), ("GET", "/healthz"),
                    ("GET", "/status"), ("GET", "/")):
                code, body = request(op.url + path, method, SECRETS["bearer-token"])
                answers[f"{method} {path} ({code})"] = body
            kube = {f"kubectl get {kind}": env.kubectl("get", kind, "-A", "-o", "json").stdout
                    for kind in ("events", "monitors", "incidents", "alertchannels")}
        finally:
            for process in reversed(env.processes):
                process.stop()
        logs = {f"{p.name} log": p.log() for p in env.processes}
    assert_no_leaks(secrets, {**logs, **kube, **answers})
