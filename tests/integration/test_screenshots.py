"""Screenshots on downtime in `pharos run` with the real headless Chromium (/usr/bin/chromium):
a local target going Down opens an incident and a PNG of what it served is attached to it (the
incident's `screenshots`, its timeline, /api/v1/screenshots/{id}.png, the status page's incident
view), and again on recovery; a target that hangs makes the capture time out, which is recorded
on the incident after the down notification went out — the alert never waits for the browser.
Monitors without `alerting.screenshot` get none. Every wait is a bounded poll.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

import pharos
from receivers import NotificationReceiver
from test_alerting import AlertingRun, channel, http_monitor, quoted

CHROMIUM = "/usr/bin/chromium"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason="Debian chromium is not installed (scripts/setup)")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, data[:16]
    return struct.unpack(">II", data[16:24])


def incident_of(run: AlertingRun, monitor: str) -> dict | None:
    """The monitor's incident in full (screenshots, timeline), from /api/v1/incidents/{id}."""
    found = [i for i in run.incidents() if i["name"] == monitor]
    if not found:
        return None
    return run.get("/api/v1/incidents/" + quoted(found[0]["id"])).json()


def test_down_and_recovery_are_captured_and_shown_on_the_incident(tmp_path, target, receiver):
    state = "shot-down"
    target.set_state(state, 200, "<h1>all good</h1>")
    files = pharos.write_monitors(tmp_path, [
        http_monitor("storefront", target.url(f"/state/{state}"), screenshot=True,
                     channels=["ops"]),
        http_monitor("no-shots", target.url(f"/state/{state}")),
        channel("ops", "webhook", {"url": receiver.url("/hook")}),
    ])
    # Links in notifications start with --public-url (never fetched: it only names the server).
    run = AlertingRun(tmp_path, [files], ("--screenshot-timeout", "60s",
                                          "--screenshot-dir", str(tmp_path / "shots"),
                                          "--public-url", "https://status.example.com/"))
    try:
        pharos.wait_for(lambda: run.state("storefront") == "Up", timeout=30, message="Up")
        target.set_state(state, 503, "<h1>Service Unavailable: the shop is down</h1>")
        pharos.wait_for(lambda: incident_of(run, "storefront"), timeout=30,
                        message="an incident for storefront")
        down = pharos.wait_for(lambda: (i := incident_of(run, "storefront"))
                               and i["screenshots"] and i, timeout=90,
                               message="the Down screenshot on the incident\n" + run.output())
        url = down["screenshots"][0]
        assert url.startswith("/api/v1/screenshots/") and url.endswith(".png")
        response = run.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "image/png"
        width, height = png_size(response.content)
        assert width > 100 and height > 100
        assert [e for e in down["timeline"] if e["kind"] == "screenshot" and e["text"] == url]
        stored = list((tmp_path / "shots").glob("*.png"))
        assert len(stored) == 1 and stored[0].read_bytes() == response.content

        # The public status page shows it with the incident.
        pharos.wait_for(lambda: url in run.get("/status/default").text, timeout=30,
                        message="the screenshot on the status page")
        assert run.get("/api/v1/screenshots/" + "0" * 32 + ".png").status_code == 404
        assert run.get("/api/v1/screenshots/../../etc/passwd.png").status_code == 404

        target.set_state(state, 200, "<h1>all good</h1>")
        recovered = pharos.wait_for(lambda: (i := incident_of(run, "storefront"))
                                    and len(i["screenshots"]) == 2 and i, timeout=90,
                                    message="the recovery screenshot\n" + run.output())
        assert recovered["phase"] == "Resolved"
        assert run.get(recovered["screenshots"][1]).content[:8] == PNG_SIGNATURE
        no_shots = incident_of(run, "no-shots")
        assert no_shots is not None and no_shots["screenshots"] == []

        # The outage notice left before the capture; the recovery notice links it.
        notices = receiver.wait_for(
            lambda r: (n := {x.json()["event"]: x.json() for x in r.requests("/hook")})
            and "recovered" in n and n, timeout=60, message="the recovery notification")
        assert notices["down"]["screenshots"] == []
        assert notices["recovered"]["screenshots"][0] == "https://status.example.com" + url
    finally:
        run.stop()


def test_a_hanging_target_times_the_capture_out_without_delaying_the_alert(tmp_path, target):
    with NotificationReceiver() as receiver:
        files = pharos.write_monitors(tmp_path, [
            # The check gives up after 2 s (Down); the browser would wait for the page forever.
            http_monitor("hangs", target.url("/slow/first-byte?ms=3600000"), screenshot=True,
                         channels=["ops"]),
            channel("ops", "webhook", {"url": receiver.url("/hook")}),
        ])
        run = AlertingRun(tmp_path, [files], ("--screenshot-timeout", "4s",
                                            "--screenshot-dir", str(tmp_path / "shots")))
        try:
            receiver.wait_for(lambda r: [x for x in r.requests("/hook")
                                         if x.json()["event"] == "down"], timeout=60,
                              message="the down notification")
            failed = pharos.wait_for(
                lambda: (i := incident_of(run, "hangs")) and [
                    e for e in i["timeline"] if e["kind"] == "note"
                    and e["text"].startswith("Screenshot (down) failed")] and i,
                timeout=60, message="the failed capture on the incident\n" + run.output())
            note = [e for e in failed["timeline"] if e["kind"] == "note"][0]
            assert "timed out after 4 s" in note["text"], note
            sent = [e for e in failed["timeline"] if e["kind"] == "notification"]
            assert sent and sent[0]["at"] <= note["at"], failed["timeline"]
            assert failed["screenshots"] == []
            assert not list(tmp_path.glob("shots/*.png"))
            # No browser is left behind.
            leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                         and _is_capture_of(p, str(tmp_path))]
            assert not leftovers, leftovers
        finally:
            run.stop()


def _is_capture_of(proc: Path, workdir: str) -> bool:
    try:
        cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "pharos-shot-" in cmdline and "slow/first-byte" in cmdline
