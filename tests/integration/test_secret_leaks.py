"""No secret leaks from `pharos run` and its probes (issue #16, "Secrets and access").

`pharos run` gets known secret values: probe tokens (an external pharos-probe with the right one
and one with a wrong one), API tokens (acknowledging with a wrong and the right one), a webhook
channel whose URL carries a token and whose HMAC secret comes from the environment (the receiver
answers 500 for a while, so failed deliveries are logged and retried), a Monitor header secret on
a failing check, and a ClickHouse password file for a ClickHouse that is not there (every insert
fails and is logged). After exercising all of them, no log line (of pharos run or the probes) and
no answer of the read APIs (/api/v1/monitors, results, incidents and their detail, /metrics, the
status pages) may contain any of the secret values.

Every wait is a bounded poll; nothing sleeps for synchronisation.
"""

from __future__ import annotations

import subprocess
import urllib.parse

import requests

import pharos
from pharos_run import PharosRun
from secret_leaks import assert_no_leaks, known_secrets

SECRETS = known_secrets("probe-token", "wrong-probe-token", "api-token", "wrong-api-token",
                        "hook-url-token", "hook-hmac", "header-secret", "clickhouse-password")


def test_no_secret_in_logs_or_answers(tmp_path, target, receiver):
    target.set_state("leaky", 200)
    hook_url = receiver.url("/hook?token=" + SECRETS["hook-url-token"])
    files = pharos.write_monitors(tmp_path, [
        pharos.monitor("leaky", "http", namespace="shop", frequency="10s", timeout="2s",
                       http={"url": target.url("/state/leaky"),
                             "headers": {"X-Api-Key": SECRETS["header-secret"]}},
                       alerting={"failureThreshold": 1, "successThreshold": 1,
                                 "channels": ["hook"]}),
        {"apiVersion": pharos.API_VERSION, "kind": "AlertChannel",
         "metadata": {"name": "hook", "namespace": "shop"},
         "spec": {"type": "webhook", "webhook": {
             "url": hook_url, "secret": {"valueFrom": {"env": "HOOK_SECRET"}}}}},
    ])
    (tmp_path / "probe-tokens").write_text(f"eu-west={SECRETS['probe-token']}\n")
    (tmp_path / "api-tokens").write_text(f"alice={SECRETS['api-token']}\n")
    (tmp_path / "ch-password").write_text(SECRETS["clickhouse-password"] + "\n")
    (tmp_path / "good-token").write_text(SECRETS["probe-token"] + "\n")
    (tmp_path / "bad-token").write_text(SECRETS["wrong-probe-token"] + "\n")
    run = PharosRun(tmp_path, [files], env={"HOOK_SECRET": SECRETS["hook-hmac"]}, extra_args=(
        "--probe-token-file", str(tmp_path / "probe-tokens"),
        "--api-token-file", str(tmp_path / "api-tokens"),
        "--clickhouse-url", f"http://127.0.0.1:{pharos.free_port('tcp')}",
        "--clickhouse-password-file", str(tmp_path / "ch-password"),
        "--clickhouse-flush-interval", "1s", "--clickhouse-retry-max", "2s",
        "--notification-backoff", "200ms"))
    probes = []
    try:
        for name, token_file in (("good", "good-token"), ("bad", "bad-token")):
            log = open(tmp_path / f"probe-{name}.log", "w")
            probes.append((subprocess.Popen(
                [str(pharos.required_binary("pharos-probe")), "--operator", run.base,
                 "--region", "eu-west", "--token-file", str(tmp_path / token_file),
                 "--name", f"probe-{name}", "--listen", "127.0.0.1:0", "--log-format", "json"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log))
        pharos.wait_for(lambda: run.json("/api/v1/monitors/shop/leaky")["state"] == "Up",
                        timeout=40, message="Up")
        # A failing check (the header secret went with it), an incident, a webhook refused with
        # 500 (retried, logged) and then delivered.
        receiver.answer("/hook", 500, times=2)
        target.set_state("leaky", 500)
        pharos.wait_for(lambda: run.json("/api/v1/monitors/shop/leaky")["state"] == "Down",
                        timeout=40, message="Down")
        pharos.wait_for(lambda: len(receiver.requests("/hook")) >= 3, timeout=40,
                        message="the webhook delivered after two 500s")
        incident = run.json("/api/v1/incidents")["incidents"][0]["id"]
        quoted = urllib.parse.quote(incident, safe="")
        ack = f"{run.base}/api/v1/incidents/{quoted}/ack"
        wrong = requests.post(ack, headers={"Authorization": f"Bearer {SECRETS['wrong-api-token']}"},
                              timeout=5)
        assert wrong.status_code == 401
        right = requests.post(ack, headers={"Authorization": f"Bearer {SECRETS['api-token']}"},
                              timeout=5)
        assert right.status_code == 200, right.text
        # Results from the good probe arrived (the in-process probe has no eu-west region).
        pharos.wait_for(lambda: any(r.get("region") == "eu-west" for r in run.json(
            "/api/v1/monitors/shop/leaky/results?limit=50")["results"]), timeout=40,
            message="a result of the external probe")
        answers = {path: run.get(path).text for path in (
            "/api/v1/monitors", "/api/v1/monitors/shop/leaky",
            "/api/v1/monitors/shop/leaky/results?limit=200", "/api/v1/incidents",
            f"/api/v1/incidents/{quoted}", "/metrics", "/", "/status")}
        answers[f"401 answer to {ack}"] = wrong.text
        answers[f"200 answer to {ack}"] = right.text
        pharos.wait_for(lambda: "ClickHouse" in run.output() or "clickhouse" in run.output(),
                        timeout=30, message="a logged ClickHouse failure")
    finally:
        for process, log in probes:
            process.terminate()
            process.wait(30)
            log.close()
        run.stop()
    texts = {"pharos run output": run.output(), **answers,
             **{f"probe-{n} log": (tmp_path / f"probe-{n}.log").read_text()
                for n in ("good", "bad")}}
    assert_no_leaks(SECRETS, texts)
