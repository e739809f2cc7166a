"""Screenshots on downtime in pharos-operator on a real kube-apiserver + etcd (tests/k8s): the
capture runs in the region whose check failed, by the screenshot sidecar of that region's probe.

Real processes throughout: pharos-operator, a pharos-probe of region eu-west started with
--screenshot-server, and its sidecar `pharos-probe screenshot-server` running the real headless
/usr/bin/chromium. A local target going Down opens an Incident; the operator asks eu-west for a
screenshot, the probe leases the request, the sidecar captures the page, the probe uploads the
PNG through the probe API; the Incident lists it (status.screenshots, a `screenshot` timeline
entry) and the operator serves it at /api/v1/screenshots/{id}.png. A target that hangs makes the
capture time out (the sidecar's --timeout): that is recorded on its Incident, after the Incident
was opened (the alert never waited for the browser), and the recovery capture queued behind it is
still taken. A probe without a sidecar never leases requests. The operator's cluster-wide target
policy (--deny-cidr 127.0.0.2/32; neither the probe nor the sidecar has a flag) reaches the
sidecar's browser with the screenshot lease: a page that redirects the browser to 127.0.0.2 fails
with the policy's reason on the Incident, and the server on 127.0.0.2 gets no request. Every wait
is a bounded poll.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import pharos
from pharos import wait_for
from recording_site import RecordingSite
from target_server import TargetServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import NS, Env, chart_rbac, pharos_env, start_process  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REGION = "eu-west"
CAPTURE_TIMEOUT = "20s"  # the sidecar's --timeout; the operator's --screenshot-timeout matches

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason="Debian chromium is not installed (scripts/setup)")


def monitor(env: Env, name: str, url: str) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "http", "frequency": "10s", "timeout": "2s", "regions": [REGION],
                     "http": {"url": url},
                     "alerting": {"failureThreshold": 1, "successThreshold": 1,
                                  "screenshot": True}}}


def incident_of(env: Env, monitor_name: str) -> dict | None:
    items = env.kubectl_json("get", "incidents", "-n", NS, "-l",
                             f"pharos.dev/monitor={monitor_name}")["items"]
    return items[0] if items else None


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read(), reply.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), ""


def json_log_line(process, message: str) -> dict | None:
    assert process.alive(), f"{process.name} exited:\n{process.log()}"
    return next((line for line in process.json_lines() if line.get("msg") == message), None)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("screenshots-e2e")
    with TargetServer() as target, pharos_env(workdir, chart_rbac(), target=target) as env:
        # The cluster-wide target policy: the only place 127.0.0.2 is denied.
        op = env.start_operator("op-a", "--screenshot-timeout", CAPTURE_TIMEOUT,
                                "--deny-cidr", "127.0.0.2/32",
                                "--screenshot-pickup-timeout", "60s",
                                "--screenshot-dir", workdir / "shots",
                                leader_elect=False, regions=False)
        sidecar = start_process("sidecar", [
            pharos.binary("pharos-probe"), "screenshot-server", "--listen", "127.0.0.1:0",
            "--timeout", CAPTURE_TIMEOUT, "--chromium", CHROMIUM, "--log-format", "json"],
            workdir)
        env.processes.append(sidecar)
        serving = wait_for(lambda: json_log_line(sidecar, "screenshot sidecar serving "
                                                          "POST /capture"),
                           timeout=30, message="the sidecar to listen")
        probe = start_process("probe-eu", [
            pharos.binary("pharos-probe"), "--operator", op.url, "--region", REGION,
            "--token-file", env.token_file, "--name", "probe-eu", "--listen", "127.0.0.1:0",
            "--screenshot-server", serving["address"], "--screenshot-poll", "300ms",
            "--log-format", "json"], workdir)
        env.processes.append(probe)
        # A probe of the region without a sidecar: it checks, it never takes a request.
        env.processes.append(env.start_probe("probe-eu-plain", op, REGION))
        yield env, op, probe


def test_down_is_captured_in_the_failing_region_and_served_by_the_operator(world):
    env, op, probe = world
    env.target.set_state("shop", 200, "<h1>all good</h1>")
    env.apply(monitor(env, "shop", env.target.url("/state/shop")))
    env.wait_status("shop", lambda s: s.get("state") == "Up", what="Up")
    env.target.set_state("shop", 503, "<h1>Service Unavailable: the shop is down</h1>")

    def screenshot():
        incident = incident_of(env, "shop")
        shots = ((incident or {}).get("status") or {}).get("screenshots") or []
        return (incident, shots) if shots else None
    try:
        incident, shots = wait_for(screenshot, timeout=60, interval=0.5,
                                   message="a screenshot on the shop's Incident")
    except TimeoutError as error:
        raise AssertionError(f"{error}\nincident: {json.dumps(incident_of(env, 'shop'))}\n"
                             f"probe log:\n{probe.log()[-4000:]}\n"
                             f"operator log:\n{op.process.log()[-4000:]}") from None
    assert len(shots) == 1 and shots[0].startswith("/api/v1/screenshots/"), shots
    kinds = [entry["kind"] for entry in incident["status"]["timeline"]]
    assert "screenshot" in kinds, incident["status"]["timeline"]
    code, body, content_type = fetch(op.url + shots[0])
    assert code == 200 and content_type == "image/png", (code, body[:200])
    assert body[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", body[16:24])
    assert width > 0 and height > 0
    # The probe with the sidecar took it; the other probe of the region never leases requests.
    uploads = [line for line in probe.json_lines() if line.get("msg") == "screenshot uploaded"]
    assert uploads and uploads[0]["moment"] == "down", probe.log()[-2000:]
    # An unknown id is a 404, not an error page.
    code, _, _ = fetch(op.url + "/api/v1/screenshots/" + "0" * 32 + ".png")
    assert code == 404


def test_a_hanging_target_costs_one_capture_timeout_and_blocks_nothing(world):
    env, op, probe = world
    # The sidecar is busy with the hanging page for the whole capture timeout while the shop's
    # recovery capture may wait behind it: it is still taken.
    env.apply(monitor(env, "hang", env.target.url("/slow/first-byte?ms=120000")))
    env.target.set_state("shop", 200, "<h1>all good again</h1>")

    def failure_note():
        incident = incident_of(env, "hang")
        for entry in ((incident or {}).get("status") or {}).get("timeline") or []:
            if entry["kind"] == "note" and entry["text"].startswith("Screenshot (down) failed"):
                return incident, entry
        return None
    incident, note = wait_for(failure_note, timeout=90, interval=0.5,
                              message="the hanging capture recorded as failed on its Incident")
    assert f"in region {REGION}" in note["text"] and "timed out" in note["text"], note
    assert not incident["status"].get("screenshots"), incident["status"]
    # The Incident (the alert) was there before the capture ended.
    opened = min(entry["at"] for entry in incident["status"]["timeline"]
                 if entry["kind"] == "stateChange")
    assert opened < note["at"], incident["status"]["timeline"]

    def recovery_shot():
        shots = ((incident_of(env, "shop") or {}).get("status") or {}).get("screenshots") or []
        return shots if len(shots) == 2 else None
    shots = wait_for(recovery_shot, timeout=90, interval=0.5,
                     message="the shop's recovery screenshot after the hanging capture")
    code, body, _ = fetch(op.url + shots[1])
    assert code == 200 and body[:8] == PNG_SIGNATURE
    # The probe kept checking throughout: the shop recovered (Up) while the capture hung.
    assert env.status("shop").get("state") == "Up"


def test_the_clusters_target_policy_reaches_the_sidecars_browser(world):
    env, op, probe = world
    denied = RecordingSite("127.0.0.2")

    def redirect(request):
        # Only the browser is sent away: the check must see a plain Down.
        if "Chrome" in (request.headers.get("User-Agent") or ""):
            return 302, {"Location": f"{denied.base}/landing"}, b"moved\n"
        return 503, {}, b"<h1>Down</h1>"
    pages = RecordingSite("127.0.0.1", {"/redirect": redirect})
    try:
        env.apply(monitor(env, "moved", f"{pages.base}/redirect"))

        def failed_note():
            incident = incident_of(env, "moved")
            timeline = ((incident or {}).get("status") or {}).get("timeline") or []
            return [entry["text"] for entry in timeline if entry["kind"] == "note"
                    and entry["text"].startswith("Screenshot (down) failed")]
        try:
            notes = wait_for(failed_note, timeout=90, interval=0.5,
                             message="the refused capture on the moved Incident")
        except TimeoutError as error:
            raise AssertionError(f"{error}\nincident: {json.dumps(incident_of(env, 'moved'))}\n"
                                 f"probe log:\n{probe.log()[-4000:]}") from None
        assert "target address 127.0.0.2 is blocked by the probe's policy" in notes[0], notes
        assert "/redirect" in " ".join(pages.log), pages.log
        assert denied.log == [], denied.log
    finally:
        env.kubectl("delete", "monitor", "-n", NS, "moved", "--wait=false")
        pages.close()
        denied.close()
