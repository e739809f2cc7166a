"""The e-mail and Alertmanager channels against the real thing: an SMTP server (aiosmtpd) that
requires STARTTLS and AUTH and receives a well-formed MIME message with text and HTML parts, and
Debian's Alertmanager receiving Pharos' alerts, grouping them and resolving them. Also
`pharos notify test` against both, and a refused SMTP login recorded as a permanent failure.

All on 127.0.0.1; every wait is a bounded poll.
"""

from __future__ import annotations

import email
import email.policy
import re
import ssl
import threading
from pathlib import Path

import pytest

import pharos
from pharos_run import PharosRun
import prometheus as prom
from certs import make_test_pki
from receivers import NotificationReceiver

aiosmtpd = pytest.importorskip("aiosmtpd", reason="scripts/setup installs aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

PASSWORD = "smtp-pass-w0rd"


class Mailbox:
    """An SMTP server on 127.0.0.1 requiring STARTTLS before AUTH (user alice) and AUTH before
    mail; keeps every message received."""

    def __init__(self, pki_dir: Path) -> None:
        pki = make_test_pki(pki_dir)
        self.ca_file = pki.ca_file
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.certs["valid"].cert_file, pki.certs["valid"].key_file)
        self.messages: list[tuple[object, bytes]] = []
        self.logins: list[tuple[str, str]] = []
        self.tls_sessions = 0
        self._lock = threading.Lock()
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                with mailbox._lock:
                    mailbox.messages.append((envelope, envelope.content))
                    if session.ssl is not None:
                        mailbox.tls_sessions += 1
                return "250 OK queued"

        def authenticate(server, session, envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            user, password = auth_data.login.decode(), auth_data.password.decode()
            with mailbox._lock:
                mailbox.logins.append((user, password))
            return AuthResult(success=user == "alice" and password == PASSWORD, handled=False)

        self.port = pharos.free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                      tls_context=context, require_starttls=True,
                                      auth_required=True, auth_require_tls=True,
                                      authenticator=authenticate, ready_timeout=10)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def received(self) -> list[email.message.EmailMessage]:
        with self._lock:
            return [email.message_from_bytes(content, policy=email.policy.default)
                    for _, content in self.messages]


@pytest.fixture
def mailbox(tmp_path):
    box = Mailbox(tmp_path / "pki")
    yield box
    box.stop()


def email_channel(mailbox: Mailbox, password_file: Path) -> dict:
    return {"apiVersion": pharos.API_VERSION, "kind": "AlertChannel",
            "metadata": {"name": "ops-mail", "namespace": "shop"},
            "spec": {"type": "email", "tls": {"caFile": mailbox.ca_file},
                     "email": {"server": f"127.0.0.1:{mailbox.port}", "security": "starttls",
                               "username": "alice",
                               "password": {"valueFrom": {"file": str(password_file)}},
                               "from": "pharos@example.com",
                               "to": ["oncall@example.com", "ops@example.com"]}}}


# Short retry backoffs, so a retried delivery happens within a test's time.
SHORT_BACKOFF = ("--notification-backoff", "200ms", "--notification-backoff-max", "1s")


def monitor(name: str, url: str, channels: list[str]) -> dict:
    return pharos.monitor(name, "http", namespace="shop", frequency="10s", timeout="2s",
                          http={"url": url},
                          alerting={"failureThreshold": 1, "channels": channels})


def test_email_over_starttls_with_auth_is_a_well_formed_mime_message(tmp_path, target, mailbox):
    password_file = tmp_path / "smtp-password"
    password_file.write_text(PASSWORD + "\n")
    target.set_state("mail-checkout", 503)
    files = pharos.write_monitors(tmp_path, [
        monitor("checkout-api", target.url("/state/mail-checkout"), ["ops-mail"]),
        email_channel(mailbox, password_file)])
    run = PharosRun(tmp_path, [files], extra_args=SHORT_BACKOFF)
    try:
        pharos.wait_for(lambda: mailbox.received(), timeout=40, message="the outage e-mail")
        message = mailbox.received()[0]
        assert message["Subject"] == "[DOWN] shop/checkout-api"
        assert message["From"] == "pharos@example.com"
        assert message["To"] == "oncall@example.com, ops@example.com"
        assert re.fullmatch(r"<[0-9a-f]{32}@pharos>", message["Message-ID"])
        assert message["X-Pharos-Delivery"] in message["Message-ID"]
        assert message["Date"]
        assert message.get_content_type() == "multipart/alternative"
        parts = {part.get_content_type(): part for part in message.iter_parts()}
        assert set(parts) == {"text/plain", "text/html"}
        assert "shop/checkout-api is Down" in parts["text/plain"].get_content()
        html = parts["text/html"].get_content()
        assert html.startswith("<!DOCTYPE html>") and "[DOWN] shop/checkout-api" in html
        envelope = mailbox.messages[0][0]
        assert envelope.mail_from == "pharos@example.com"
        assert sorted(envelope.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
        assert mailbox.logins == [("alice", PASSWORD)]
        assert mailbox.tls_sessions == 1
    finally:
        run.stop()
    output = run.output()
    assert PASSWORD not in output


def test_notify_test_sends_once_and_a_refused_login_fails_with_the_reason(tmp_path, mailbox):
    password_file = tmp_path / "smtp-password"
    password_file.write_text(PASSWORD)
    files = pharos.write_monitors(tmp_path, [email_channel(mailbox, password_file)])
    done = pharos.run([pharos.required_binary("pharos"), "notify", "test", files, "--channel",
                       "ops-mail"], timeout=60)
    assert done.returncode == 0, done.describe()
    assert "delivered a test notification to email channel shop/ops-mail" in done.stdout
    assert mailbox.received()[-1]["Subject"] == "[TEST] Pharos test notification"

    password_file.write_text("wrong-password")
    refused = pharos.run([pharos.required_binary("pharos"), "notify", "test", files,
                          "--channel", "shop/ops-mail"], timeout=60)
    assert refused.returncode == 1, refused.describe()
    assert "did not take the test notification" in refused.stderr
    assert "SMTP" in refused.stderr and "535" in refused.stderr, refused.stderr
    assert "wrong-password" not in refused.output

    unknown = pharos.run([pharos.required_binary("pharos"), "notify", "test", files,
                          "--channel", "nope"], timeout=60)
    assert unknown.returncode == 2 and "no AlertChannel \"nope\"" in unknown.stderr


def test_alertmanager_receives_groups_and_resolves(tmp_path, target):
    with NotificationReceiver() as webhook:
        alertmanager = prom.Alertmanager({
            "route": {"receiver": "webhook", "group_by": ["alertname", "namespace"],
                      "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "webhook", "webhook_configs": [
                {"url": webhook.url("/am-webhook"), "send_resolved": True}]}],
        }, workdir=tmp_path / "alertmanager")
        try:
            target.set_state("am-a", 503)
            target.set_state("am-b", 503)
            am_channel = {"apiVersion": pharos.API_VERSION, "kind": "AlertChannel",
                          "metadata": {"name": "am", "namespace": "shop"},
                          "spec": {"type": "alertmanager", "default": True,
                                   "alertmanager": {"url": alertmanager.base,
                                                    "labels": {"team": "payments"}}}}
            files = pharos.write_monitors(tmp_path, [
                monitor("cart", target.url("/state/am-a"), []),
                monitor("orders", target.url("/state/am-b"), []),
                am_channel])
            run = PharosRun(tmp_path, [files], extra_args=SHORT_BACKOFF)
            try:
                firing = pharos.wait_for(
                    lambda: len([a for a in alertmanager.alerts()
                                 if a["labels"]["alertname"] == "PharosMonitorDown"]) == 2
                    and alertmanager.alerts(), timeout=45, message="two alerts in Alertmanager")
                labels = sorted((a["labels"]["monitor"], a["labels"]["team"],
                                 a["labels"]["severity"]) for a in firing)
                assert labels == [("cart", "payments", "critical"),
                                  ("orders", "payments", "critical")]
                assert all(a["status"]["state"] == "active" for a in firing)
                # One group (alertname, namespace) holding both monitors.
                grouped = webhook.wait_for(
                    lambda r: [x.json() for x in r.requests("/am-webhook")
                               if x.json()["status"] == "firing" and len(x.json()["alerts"]) == 2],
                    timeout=30, message="one grouped notification")[0]
                assert grouped["groupLabels"] == {"alertname": "PharosMonitorDown",
                                                  "namespace": "shop"}

                target.set_state("am-a", 200)
                target.set_state("am-b", 200)

                def resolved(receiver):
                    posts = [x.json() for x in receiver.requests("/am-webhook")]
                    monitors = {a["labels"]["monitor"] for p in posts for a in p["alerts"]
                                if a["status"] == "resolved"}
                    return monitors == {"cart", "orders"} and posts[-1]["status"] == "resolved"

                # Alertmanager tells each resolution once, in the group's notifications.
                webhook.wait_for(resolved, timeout=45, message="the group resolved")
                assert not [a for a in alertmanager.alerts() if a["status"]["state"] == "active"]
            finally:
                run.stop()
        finally:
            alertmanager.stop()
