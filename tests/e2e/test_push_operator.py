"""Push (heartbeat) monitors in pharos-operator, on a real kube-apiserver + etcd (tests/k8s).

The operator runs as system:serviceaccount:pharos-system:pharos-operator with the chart's RBAC
(rendered with pushMonitors.secretNames={job-token}, so reading that Secret is proven to be
granted and nothing more); no probe runs (push monitors are never probed).

Covered: a `type: push` Monitor gets a generated token in Monitor.status.push.token; pings to
the operator's /api/v1/push/{token} make it Up; pings stopping make it Down once expectEvery +
grace have passed (a `missed` result); the next ping brings it back Up. A Monitor whose token
comes from a Secret (spec.push.tokenFrom.secretKeyRef) answers that token, writes none to its
status, and a token the operator does not know is a 404 that reveals nothing.

Every wait is a bounded poll (pharos.wait_for); nothing sleeps for synchronisation.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from pharos import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import (NS, Env, Operator, chart_rbac_with, epoch_ms, http_get,  # noqa: E402
                           pharos_env)


SECRET = "job-token"
SECRET_TOKEN = "e2e-secret-token-0123456789abcdef"


def chart_rbac() -> list[dict]:
    return chart_rbac_with(f"pushMonitors.secretNames={{{SECRET}}}")


def push_monitor(name: str, **push) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "push", "push": {"expectEvery": "3s", "grace": "1s", **push}}}


def ping(operator: Operator, token: str, suffix: str = "", method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(f"{operator.url}/api/v1/push/{token}{suffix}", data=b"" if
                                     method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass
class World:
    env: Env
    operator: Operator


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with pharos_env(tmp_path_factory.mktemp("push-e2e"), chart_rbac(),
                    binaries=("pharos-operator",)) as env:
        op = env.start_operator("op-a", leader_elect=False, regions=False)
        yield World(env, op)


def test_a_push_monitor_is_up_while_pinged_and_down_when_pings_stop(world):
    env, op = world.env, world.operator
    env.apply(push_monitor("nightly"))
    status = env.wait_status("nightly", lambda s: (s.get("push") or {}).get("token"),
                             what="a ping token")
    token = status["push"]["token"]
    assert len(token) >= 16 and token not in op.process.log(), "tokens are never logged"

    # Pinged in time: Up.
    code, body = ping(op, token)
    assert code == 200, body
    env.wait_status("nightly", lambda s: s.get("state") == "Up", what="Up after a ping")
    code, body = ping(op, token, method="GET")
    assert code == 200, body

    # No ping for expectEvery 3s + grace 1s: Down, with the missed deadline as the reason.
    status = env.wait_status("nightly", lambda s: s.get("state") == "Down", timeout=60,
                             what="Down after the pings stop")
    assert "no ping within expectEvery 3s + grace 1s" in status["regions"][0]["message"], status
    code, body = http_get(f"{op.url}/api/v1/monitors/{NS}/nightly/results?limit=50")
    assert code == 200, body
    results = json.loads(body)["results"]
    missed = sorted(epoch_ms(r["startedAt"]) for r in results
                    if (r.get("failedAssertion") or {}).get("type") == "missed")
    # failureThreshold is 1 for push monitors: the first missed deadline made it Down, before
    # any second one (the CRD must not default the threshold to 2).
    assert missed, results
    assert len(missed) == 1 or epoch_ms(status["lastTransitionTime"]) < missed[1], (status, results)

    # The next ping: Up again, the token unchanged.
    code, body = ping(op, token)
    assert code == 200, body
    status = env.wait_status("nightly", lambda s: s.get("state") == "Up", what="Up again")
    assert status["push"]["token"] == token

    # A failed run is Down at once.
    code, body = ping(op, token, "/fail")
    assert code == 200, body
    env.wait_status("nightly", lambda s: s.get("state") == "Down", what="Down after /fail")


def test_an_unknown_token_is_404_revealing_nothing(world):
    op = world.operator
    answers = {ping(op, token) for token in ("0" * 48, "unknown-token-of-some-length", "a" * 300)}
    assert len(answers) == 1, answers
    [(code, body)] = answers
    assert code == 404 and json.loads(body) == {"error": "not found"}, answers
    assert op.process.alive()


def test_a_token_from_a_secret(world):
    env, op = world.env, world.operator
    env.apply({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": SECRET, "namespace": NS},
               "stringData": {"token": SECRET_TOKEN}})
    env.apply(push_monitor("from-secret", expectEvery="1h",
                           tokenFrom={"secretKeyRef": {"name": SECRET, "key": "token"}}))

    # Read once the JSON API says so, without showing it (asked there rather than by pinging:
    # wrong tokens count against the address's allowance, docs/security.md#tokens).
    def loaded():
        code, body = http_get(f"{op.url}/api/v1/monitors/{NS}/from-secret")
        return code == 200 and json.loads(body).get("push") == {"tokenLoaded": True}
    wait_for(loaded, timeout=30, interval=0.3, message="the Secret's token in use")
    code, body = ping(op, SECRET_TOKEN)
    assert code == 200, body
    status = env.wait_status("from-secret", lambda s: s.get("state") == "Up", what="Up")
    assert "token" not in (status.get("push") or {}), "a Secret's token is not copied to status"
    assert SECRET_TOKEN not in op.process.log(), "tokens are never logged"

    code, body = ping(op, SECRET_TOKEN, "/fail")
    assert code == 200, body
    env.wait_status("from-secret", lambda s: s.get("state") == "Down", what="Down after /fail")


def test_no_permission_errors_in_the_operator_log(world):
    log = world.operator.process.log()
    assert "forbidden" not in log.lower(), log[-4000:]
