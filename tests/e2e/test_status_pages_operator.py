"""StatusPages in pharos-operator on a real kube-apiserver + etcd (tests/k8s): the
statuspages.pharos.dev CRD and what its schema refuses, a page applied with kubectl served at
/status/{slug} (HTML, the JSON API, feeds) with /ui/ and badges beside it, what the operator
refuses itself (a slug already served, a bad CIDR, a password Secret it may not read) in the
page's Ready condition, a page taking over a freed slug, and a password page whose password comes
from a Secret the chart's RBAC names (statusPages.secretNames).

The operator runs as system:serviceaccount:pharos-system:pharos-operator with the chart's RBAC.
Every wait is a bounded poll.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pharos import wait_for
from target_server import TargetServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import NS, Env, chart_rbac_with, pharos_env  # noqa: E402


REGION = "eu-west"
PASSWORD = "e2e-page-password"


def page(name: str, spec: dict) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "StatusPage",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def shop_groups() -> list[dict]:
    return [{"name": "Shop", "components": [{"monitor": "shop-api", "name": "Shop API"}]}]


def get(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), dict(error.headers)


def ready(env: Env, name: str) -> dict | None:
    obj = env.kubectl_json("get", "statuspage", name, "-n", NS)
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    for condition in status.get("conditions", []):
        if condition["type"] == "Ready":
            return {**condition, "slug": status.get("slug"), "url": status.get("url")}
    return None


def wait_ready(env: Env, name: str, want: str, reason: str) -> dict:
    return wait_for(lambda: (c := ready(env, name)) and c["status"] == want
                    and c["reason"] == reason and c, timeout=30,
                    message=f"StatusPage {name} Ready={want} ({reason})")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with TargetServer() as target, \
            pharos_env(tmp_path_factory.mktemp("status-pages-e2e"),
                       chart_rbac_with("statusPages.secretNames={page-password}"),
                       target=target) as e:
        cp = e.cp
        cp.kubectl("-n", NS, "create", "secret", "generic", "page-password",
                   f"--from-literal=password={PASSWORD}")
        cp.kubectl("-n", NS, "create", "secret", "generic", "not-granted",
                   "--from-literal=password=nope")
        op = e.start_operator("op-a", leader_elect=False, regions=False)
        e.start_probe("probe-a", op, REGION)
        target.set_state("shop-api", 200)
        e.apply({"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
                 "metadata": {"name": "shop-api", "namespace": NS},
                 "spec": {"type": "http", "frequency": "10s", "timeout": "2s",
                          "regions": [REGION],
                          "http": {"url": target.url("/state/shop-api")}}})
        e.wait_status("shop-api", lambda s: s.get("state") == "Up", what="Up")
        yield e


def test_crd_schema_refuses_malformed_pages(env):
    cases = [
        (page("both", {"groups": [{"components": [{"monitor": "a", "selector": {}}]}]}),
         "give either monitor or selector, not both"),
        (page("bad-slug", {"slug": "Not_A_Slug", "groups": shop_groups()}), "spec.slug"),
        (page("no-groups", {"title": "Empty"}), "spec.groups: Required value"),
        (page("bad-theme", {"theme": "neon", "groups": shop_groups()}),
         "Unsupported value: \"neon\""),
        (page("two-passwords", {"groups": shop_groups(), "access": {
            "password": "x", "passwordSecretRef": {"name": "page-password", "key": "password"}}}),
         "give either password or passwordSecretRef, not both"),
        (page("script-logo", {"logoUrl": "javascript:alert(1)", "groups": shop_groups()}),
         "spec.logoUrl"),
    ]
    for obj, message in cases:
        r = env.kubectl("apply", "-f", "-", input=json.dumps(obj), check=False)
        assert r.returncode != 0 and message in r.stderr, (obj["metadata"]["name"], r.stderr)


def test_page_applied_with_kubectl_is_served_with_dashboard_and_badges(env):
    op = env.operators["op-a"]
    env.apply(page("public", {"slug": "shop", "title": "Shop status",
                              "description": "Everything the shop runs on",
                              "groups": shop_groups(),
                              "footerLinks": [{"title": "Support", "url": "mailto:help@example.com"}]}))
    condition = wait_ready(env, "public", "True", "Served")
    assert condition["slug"] == "shop" and condition["url"] == "/status/shop"
    printed = env.kubectl("get", "statuspages", "-n", NS).stdout
    assert "shop" in printed and "Shop status" in printed and "True" in printed

    code, body, headers = get(op.url + "/status/shop")
    assert code == 200, body
    assert headers["Content-Type"].startswith("text/html")
    assert "Shop status" in body and "Shop API" in body and "help@example.com" in body
    assert "All systems operational" in wait_for(
        lambda: (b := get(op.url + "/status/shop")[1]) and "All systems operational" in b and b,
        timeout=30, message="the banner once the page is rebuilt")

    code, body, _ = get(op.url + "/api/v1/status/shop")
    assert code == 200, body
    document = json.loads(body)
    assert [(c["namespace"], c["monitor"]) for c in document["components"]] == [(NS, "shop-api")]
    assert document["status"] == "operational"
    assert get(op.url + "/status/shop/feed.atom")[0] == 200
    assert get(op.url + "/status/nope")[0] == 404

    code, body, _ = get(op.url + "/ui/")
    assert code == 200 and "shop-api" in body
    code, body, headers = get(op.url + f"/badge/{NS}/shop-api/status.svg")
    assert code == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert ">up<" in body.lower()


def test_operator_refuses_what_the_schema_cannot_and_a_freed_slug_is_taken_over(env):
    op = env.operators["op-a"]
    env.apply(page("public", {"slug": "shop", "title": "Shop status", "groups": shop_groups()}))
    wait_ready(env, "public", "True", "Served")
    # The API server accepts both; the operator serves the slug once (the smaller name keeps it).
    env.apply(page("zz-copycat", {"slug": "shop", "title": "Copycat", "groups": shop_groups()}))
    conflict = wait_ready(env, "zz-copycat", "False", "SlugConflict")
    assert f"already served by StatusPage {NS}/public" in conflict["message"]
    assert "Shop status" in get(op.url + "/status/shop")[1]

    env.apply(page("bad-cidr", {"groups": shop_groups(),
                                "access": {"allowedCidrs": ["10.0.0.0/99"]}}))
    refused = wait_ready(env, "bad-cidr", "False", "InvalidSpec")
    assert "spec.access.allowedCidrs[0]" in refused["message"], refused
    assert get(op.url + "/status/bad-cidr")[0] == 404

    env.kubectl("delete", "statuspage", "public", "-n", NS)
    wait_ready(env, "zz-copycat", "True", "Served")
    wait_for(lambda: "Copycat" in get(op.url + "/status/shop")[1], timeout=30,
             message="the copycat page served at /status/shop")
    env.kubectl("delete", "statuspage", "zz-copycat", "bad-cidr", "-n", NS)
    wait_for(lambda: get(op.url + "/status/shop")[0] == 404, timeout=30,
             message="/status/shop gone with its pages")


def test_password_from_a_secret_the_chart_grants_and_one_it_does_not(env):
    op = env.operators["op-a"]
    env.apply(page("private", {"title": "Private", "groups": shop_groups(), "access": {
        "passwordSecretRef": {"name": "page-password", "key": "password"}}}))
    wait_ready(env, "private", "True", "Served")
    code, body, _ = get(op.url + "/api/v1/status/private")
    assert code == 401, body
    basic = base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    code, body, _ = get(op.url + "/api/v1/status/private", {"Authorization": f"Basic {basic}"})
    assert code == 200 and json.loads(body)["components"], body
    code, body, _ = get(op.url + "/status/private")
    assert 'type="password"' in body and "Shop API" not in body
    assert PASSWORD not in json.dumps(env.kubectl_json("get", "statuspage", "private", "-n", NS))

    env.apply(page("locked", {"title": "Locked", "groups": shop_groups(), "access": {
        "passwordSecretRef": {"name": "not-granted", "key": "password"}}}))
    refused = wait_ready(env, "locked", "False", "SecretUnavailable")
    assert "statusPages.secretNames" in refused["message"], refused
    # Never served without its password.
    assert get(op.url + "/status/locked")[0] == 404
    assert get(op.url + "/api/v1/status/locked")[0] == 404
