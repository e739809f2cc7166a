"""The screenshot browser obeys the probe's target policy (docs/security.md "Screenshots"), with
the real headless Chromium: every connection it makes goes through the capture's policy proxy,
so with 127.0.0.2/32 on the deny list a page on 127.0.0.1 that loads an image, a frame and a
fetch from 127.0.0.2, or that redirects the browser there, never gets a request to the server on 127.0.0.2 (its request
log stays empty), the page with the image is still captured, and the redirected one fails with
the policy's reason on the incident. The screenshot sidecar (`pharos-probe screenshot-server`)
obeys its own --deny-cidr and the policy a probe sends with the capture (the operator's cluster
policy); a page whose own URL is blocked fails with the reason. A control run without the policy
shows the image request does reach 127.0.0.2, so the test can fail. Loopback only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.parse

import pytest
import requests

import pharos
from recording_site import RecordingSite
from test_alerting import AlertingRun, http_monitor, quoted

CHROMIUM = "/usr/bin/chromium"
REASON = "target address 127.0.0.2 is blocked by the probe's policy"
DENY = ("--deny-cidr", "127.0.0.2/32")

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason="Debian chromium is not installed (scripts/setup)")


@pytest.fixture
def denied():
    """The server on the denied address: its request log must stay empty."""
    site = RecordingSite("127.0.0.2")
    yield site
    site.close()


@pytest.fixture
def pages(denied):
    """Pages on 127.0.0.1, all answering 503 to the check (so the monitor goes Down):
    /image loads an image, a frame and a fetch from 127.0.0.2; /redirect sends a browser (and only a browser: the
    check must stay a plain Down) to 127.0.0.2 with a 302."""
    def image(request):
        # ?run=NAME is passed on to what the page loads, to tell captures apart in the log.
        query = urllib.parse.urlsplit(request.path).query
        run = urllib.parse.parse_qs(query).get("run", ["none"])[0]
        return 503, {}, (f'<h1>Down for maintenance</h1>'
                         f'<img src="{denied.base}/pixel.png?run={run}" alt="pixel" width="10" '
                         f'height="10"><iframe src="{denied.base}/frame?run={run}" '
                         f'title="frame"></iframe>'
                         f'<script>fetch("{denied.base}/fetch?run={run}")</script>').encode()

    def redirect(request):
        if "Chrome" in (request.headers.get("User-Agent") or ""):
            return 302, {"Location": f"{denied.base}/landing"}, b"moved\n"
        return 503, {}, b"<h1>Down</h1>"

    site = RecordingSite("127.0.0.1", {"/image": image, "/redirect": redirect})
    yield site
    site.close()


def incident_of(run: AlertingRun, monitor: str) -> dict | None:
    found = [i for i in run.incidents() if i["name"] == monitor]
    if not found:
        return None
    return run.get("/api/v1/incidents/" + quoted(found[0]["id"])).json()


def screenshot_notes(incident: dict) -> list[str]:
    return [e["text"] for e in incident["timeline"]
            if e["kind"] == "note" and e["text"].startswith("Screenshot")]


def test_pharos_run_captures_only_what_the_policy_allows(tmp_path, pages, denied):
    files = pharos.write_monitors(tmp_path, [
        http_monitor("with-image", f"{pages.base}/image", screenshot=True),
        http_monitor("redirected", f"{pages.base}/redirect", screenshot=True),
    ])
    run = AlertingRun(tmp_path, [files], ("--screenshot-timeout", "60s", *DENY))
    try:
        captured = pharos.wait_for(lambda: (i := incident_of(run, "with-image"))
                                   and i["screenshots"] and i, timeout=120,
                                   message="the screenshot of the page with the image\n" +
                                   run.output())
        assert run.get(captured["screenshots"][0]).status_code == 200
        failed = pharos.wait_for(lambda: (i := incident_of(run, "redirected"))
                                 and screenshot_notes(i), timeout=120,
                                 message="the failed capture of the redirected page\n" +
                                 run.output())
        assert len(failed) == 1 and failed[0].startswith("Screenshot (down) failed"), failed
        assert REASON in failed[0], failed
        assert incident_of(run, "redirected")["screenshots"] == []
        # The browser asked for both pages (through the proxy) and nothing reached 127.0.0.2.
        assert "/image" in " ".join(pages.requests()) and "/redirect" in " ".join(pages.requests())
        assert denied.requests() == []
        assert "refused a connection by the target policy" in run.output()
    finally:
        run.stop()


class Sidecar:
    """`pharos-probe screenshot-server` on a free loopback port, stopped by PID."""

    def __init__(self, tmp_path, *flags: str) -> None:
        self.port = pharos.free_port()
        self.log = open(tmp_path / f"sidecar-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [str(pharos.binary("pharos-probe")), "screenshot-server", "--listen",
             f"127.0.0.1:{self.port}", "--timeout", "60s", "--log-format", "json", *flags],
            stdout=self.log, stderr=self.log, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        pharos.wait_for(self._healthy, timeout=30, message="the sidecar's /healthz")

    def _healthy(self) -> bool:
        try:
            return requests.get(self.base + "/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    def capture(self, url: str, policy: dict | None = None) -> requests.Response:
        body = {"url": url}
        if policy is not None:
            body["targetPolicy"] = policy
        return requests.post(self.base + "/capture", json=body, timeout=90)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()


def not_the_control(denied) -> list[str]:
    return [path for path in denied.requests() if "run=control" not in path]


def test_the_sidecar_obeys_its_flags_and_the_policy_sent_with_the_capture(tmp_path, pages,
                                                                          denied):
    free = Sidecar(tmp_path)
    try:
        # The control: without a policy the page does make the browser fetch from 127.0.0.2.
        shot = free.capture(f"{pages.base}/image?run=control")
        assert shot.status_code == 200 and shot.content[:8] == b"\x89PNG\r\n\x1a\n", shot.text
        # (its fetch may still be on its way when the picture is taken)
        assert {"/pixel.png?run=control", "/frame?run=control"} <= set(denied.requests())
        # The probe's (and the operator's) policy sent with the capture.
        shot = free.capture(f"{pages.base}/image?run=policy",
                            {"deny": ["127.0.0.2/32"], "allow": []})
        assert shot.status_code == 200, shot.text
        refused = free.capture(f"{pages.base}/redirect", {"deny": ["127.0.0.2/32"]})
        assert refused.status_code == 502 and REASON in refused.json()["error"], refused.text
        bad = free.capture(f"{pages.base}/image", {"deny": ["not-a-cidr"]})
        assert bad.status_code == 400 and "targetPolicy" in bad.json()["error"], bad.text
        assert not_the_control(denied) == []
    finally:
        free.stop()

    guarded = Sidecar(tmp_path, *DENY)
    try:
        # A page whose own URL is blocked: no browser, the policy's reason.
        direct = guarded.capture(f"{denied.base}/page")
        assert direct.status_code == 502, direct.text
        assert REASON in direct.json()["error"], direct.text
        shot = guarded.capture(f"{pages.base}/image?run=guarded")
        assert shot.status_code == 200, shot.text
        redirected = guarded.capture(f"{pages.base}/redirect")
        assert redirected.status_code == 502 and REASON in redirected.json()["error"]
        # The cloud metadata address is refused by the defaults, decided without a packet sent.
        metadata = guarded.capture("http://169.254.169.254/latest/meta-data/")
        assert metadata.status_code == 502
        assert "target address 169.254.169.254 is blocked" in metadata.json()["error"]
        assert not_the_control(denied) == []
    finally:
        guarded.stop()
