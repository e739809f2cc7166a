"""A leader change with history in ClickHouse (issue #17): two pharos-operator replicas on a real
kube-apiserver + etcd (tests/k8s), leader election on a Lease, both with --clickhouse-url to a
real ClickHouse server (tests/support/clickhouse.py) started by the test on loopback.

Under leader A: a live monitor checked every 10 s by a local pharos-probe against the loopback
target, and two history monitors whose only results are posted through A's probe API (six days
of them, some down; their region has no probe, so nothing else is recorded for them) and a
StatusPage showing them. A is stopped by PID (SIGTERM); B takes the Lease over. B's SQLite never
held any of A's results, yet B's /api/v1/monitors (uptime windows, latency percentiles), /results
and the status page's day bars equal what A showed and what was posted; B's /api/v1/incidents lists
the incident A opened and resolved when the live monitor's target failed for a while (B's SQLite
never held it); every result A recorded
(its SQLite file) is in B's /results exactly once by item id; and new results of the live
monitor keep arriving under B.

Every wait is a bounded poll (pharos.wait_for); nothing sleeps for synchronisation.
Contract: docs/analytics.md ("Reading history"), docs/install.md (HA values).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from clickhouse import ClickHouse, ClickHouseMissing
from pharos import wait_for
from target_server import TargetServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_operator import (NS, PROBE_TOKEN, Env, Operator, chart_rbac, http_get,  # noqa: E402
                           pharos_env)


LIVE_REGION = "eu-west"
ARCHIVE_REGION = "archive"  # no probe: the history monitors get only the posted results
HISTORY = ("home", "search")
DATABASE = "pharos_leader"
SLUG = "shop"
# No posted result lies in the hour below the 24 h boundary, which slides while the test runs.
SLIDING_MARGIN = dt.timedelta(hours=1)


@dataclass
class Cluster:
    env: Env
    clickhouse: ClickHouse
    operator_args: tuple[str, ...]  # ClickHouse and a short Lease, for both replicas


def monitor(env: Env, name: str, frequency: str, region: str) -> dict:
    return {"apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "http", "frequency": frequency, "timeout": "3s", "regions": [region],
                     "http": {"url": env.target.url(f"/state/{name}?tag=leader-{name}")}}}


def get_json(op: Operator, path: str):
    status, body = http_get(op.url + path, timeout=20)
    assert status == 200, f"{op.identity} GET {path}: {status} {body[:500]}"
    return json.loads(body)


def listed(op: Operator) -> dict[str, dict]:
    return {m["name"]: m for m in get_json(op, "/api/v1/monitors")["monitors"]}


def figures(op: Operator) -> dict[str, tuple]:
    return {name: (m["uptime"]["last24h"], m["uptime"]["last7d"], m["uptime"]["last30d"],
                   m["latency"]["p50Ms"], m["latency"]["p95Ms"])
            for name, m in listed(op).items() if name in HISTORY}


def day_bars(op: Operator) -> dict[str, list]:
    document = get_json(op, f"/api/v1/status/{SLUG}")
    return {c["monitor"]: c["uptimeDays"] for c in document["components"]}


def result_ids(op: Operator, name: str) -> list[str]:
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    results = get_json(op, f"/api/v1/monitors/{NS}/{name}/results?limit=1000&since={since}")
    return [r["itemId"] for r in results["results"]]


def post_history(op: Operator, monitors: dict[str, dict]) -> list[dict]:
    """Six days of results of every history monitor, one every ~1 h 40 min, every 5th (shifted
    per monitor) down, posted through the probe API as the archive region's probe would."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    posted = []
    for index, name in enumerate(HISTORY):
        m = monitors[name]
        for i in range(85):
            age = dt.timedelta(seconds=120 + i * 6007)
            if dt.timedelta(hours=24) - SLIDING_MARGIN < age <= dt.timedelta(hours=24):
                continue
            stamp = (now - age).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            down = (i + index) % 5 == 0
            posted.append({
                "namespace": NS, "name": name, "uid": m["uid"], "generation": m["generation"],
                "type": "http", "target": m["target"], "region": ARCHIVE_REGION,
                "probe": "history-loader", "itemId": f"history-{name}-{i}",
                "scheduledAt": stamp, "startedAt": stamp,
                "outcome": "down" if down else "up", "statusCode": 503 if down else 200,
                "timings": {"dnsUs": 10, "connectUs": 20, "tlsUs": 0,
                            "firstByteUs": 2000 + 71 * (i % 40), "transferUs": 5,
                            "totalUs": 2035 + 71 * (i % 40)},
                "error": "", "attempts": 1})
    body = json.dumps({"name": "history-loader", "region": ARCHIVE_REGION,
                       "results": posted}).encode()
    request = urllib.request.Request(op.url + "/api/v1/work/results", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {PROBE_TOKEN}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        accepted = json.loads(reply.read())["accepted"]
    assert len(accepted) == len(posted), accepted
    return posted


def expected_uptime(posted: list[dict], name: str, hours: int) -> float:
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    outcomes = [r["outcome"] for r in posted if r["name"] == name
                and dt.datetime.fromisoformat(r["scheduledAt"].replace("Z", "+00:00")) >= since]
    return 100.0 * outcomes.count("up") / len(outcomes)


def sqlite_item_ids(path: Path, uid: str) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute(
            "SELECT item_id FROM results WHERE monitor_uid = ? AND item_id IS NOT NULL", (uid,))}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("clickhouse-leader-e2e")
    try:
        clickhouse = ClickHouse(workdir)
    except ClickHouseMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with TargetServer() as target, clickhouse, \
            pharos_env(workdir, chart_rbac(), target=target) as e:
        (workdir / "ch-password").write_text(clickhouse.password + "\n")
        operator_args = (
            "--clickhouse-url", clickhouse.url, "--clickhouse-database", DATABASE,
            "--clickhouse-user", clickhouse.user,
            "--clickhouse-password-file", str(workdir / "ch-password"),
            "--clickhouse-flush-interval", "300ms", "--clickhouse-retry-max", "1s",
            "--lease-duration", "6s", "--renew-deadline", "4s", "--retry-period", "1s")
        yield Cluster(e, clickhouse, operator_args)


def test_new_leader_shows_the_history_the_old_one_recorded(cluster):
    env = cluster.env
    # A first, so that it takes the Lease; then B, standing by.
    a = env.start_operator("op-a", *cluster.operator_args, regions=False)
    wait_for(lambda: env.lease_holder() == "op-a", timeout=40, interval=0.2,
             message="op-a to hold the Lease")
    b = env.start_operator("op-b", *cluster.operator_args, regions=False)
    env.start_probe("probe-a", a, LIVE_REGION)
    env.start_probe("probe-b", b, LIVE_REGION)
    env.target.set_state("web", 200)
    env.apply(monitor(env, "web", "10s", LIVE_REGION),
              *(monitor(env, name, "1h", ARCHIVE_REGION) for name in HISTORY))
    env.apply({"apiVersion": "pharos.dev/v1alpha1", "kind": "StatusPage",
               "metadata": {"name": "shop", "namespace": NS},
               "spec": {"slug": SLUG, "title": "Shop", "groups": [{"name": "Shop", "components": [
                   {"monitor": name} for name in HISTORY]}]}})
    monitors = wait_for(lambda: (m := listed(a)) and set(HISTORY) | {"web"} <= set(m) and m,
                        timeout=60, message="op-a listing the monitors")

    # --- under A --------------------------------------------------------------------------
    posted = post_history(a, monitors)
    uids = {name: monitors[name]["uid"] for name in (*HISTORY, "web")}
    wait_for(lambda: cluster.clickhouse.rows(
        f"SELECT uniqExact(item_id) FROM {DATABASE}.check_results WHERE probe = "
        "'history-loader'") == [[str(len(posted))]], timeout=60,
        message="every posted result in ClickHouse")
    expected = {name: tuple(expected_uptime(posted, name, hours)
                            for hours in (24, 24 * 7, 24 * 30)) for name in HISTORY}
    assert all(abs(e[0] - e[1]) > 0.5 for e in expected.values()), expected

    def a_shows_the_history():
        shown = figures(a)
        return all(name in shown and all(
            got is not None and abs(got - want) < 0.0015
            for got, want in zip(shown[name][:3], expected[name])) for name in HISTORY) and shown
    before = wait_for(a_shows_the_history, timeout=90, interval=1,
                      message=f"op-a showing the posted uptime {expected}")
    downs = {name: sum(1 for r in posted if r["name"] == name and r["outcome"] == "down")
             for name in HISTORY}
    bars_before = wait_for(
        lambda: (bars := day_bars(a)) and all(
            sum(day["failedChecks"] for day in bars.get(name, [])) == downs[name]
            for name in HISTORY) and bars,
        timeout=60, interval=1, message=f"op-a's day bars counting the posted failures {downs}")
    ids_before = {name: result_ids(a, name) for name in HISTORY}
    assert all(sorted(ids_before[name]) == sorted(
        r["itemId"] for r in posted if r["name"] == name) for name in HISTORY)
    wait_for(lambda: len(result_ids(a, "web")) >= 3, timeout=60, interval=1,
             message="three rounds of web under op-a")
    # An incident opened and resolved under A: web's target fails, then recovers.
    env.target.set_state("web", 503)
    incident = wait_for(lambda: next((i for i in get_json(a, "/api/v1/incidents")["incidents"]
                                      if i["name"] == "web" and i["open"]), None),
                        timeout=90, interval=1, message="op-a listing web's incident")
    env.target.set_state("web", 200)
    incident = wait_for(lambda: next((i for i in get_json(a, "/api/v1/incidents")["incidents"]
                                      if i["id"] == incident["id"] and not i["open"]), None),
                        timeout=90, interval=1, message="op-a listing web's incident resolved")

    # --- A stopped, B leads -----------------------------------------------------------------
    env.operators["op-a"].process.stop(signal.SIGTERM)
    del env.operators["op-a"]
    wait_for(lambda: env.lease_holder() == "op-b", timeout=40, interval=0.2,
             message="op-b to take the Lease over")
    took_over = dt.datetime.now(dt.timezone.utc)
    wait_for(lambda: b.metrics().get("pharos_leader") == 1, timeout=15,
             message="pharos_leader 1 on op-b")
    recorded_by_a = sqlite_item_ids(env.workdir / "op-a.db", uids["web"])
    assert len(recorded_by_a) >= 3
    assert not sqlite_item_ids(env.workdir / "op-b.db", uids["home"]), \
        "B's SQLite holds none of the posted history: what B shows comes from ClickHouse"

    # The incident A opened and resolved never reached B's SQLite, yet B lists it: the list
    # reads the Incident resources.
    with sqlite3.connect(env.workdir / "op-b.db") as db:
        assert not db.execute("SELECT id FROM incidents WHERE id = ?",
                              (incident["id"],)).fetchall()
    listed_by_b = wait_for(lambda: next((i for i in get_json(b, "/api/v1/incidents")["incidents"]
                                         if i["id"] == incident["id"]), None),
                           timeout=60, interval=1, message="op-b listing op-a's incident")
    assert listed_by_b == incident, (listed_by_b, incident)

    # Same uptime windows and percentiles, same day bars, same results.
    wait_for(lambda: figures(b) == before, timeout=90, interval=1,
             message=f"op-b showing op-a's figures {before}")
    wait_for(lambda: day_bars(b) == bars_before, timeout=60, interval=1,
             message="op-b's status page showing op-a's day bars")
    for name in HISTORY:
        ids = result_ids(b, name)
        assert len(ids) == len(set(ids)), f"{name}: an item id twice"
        assert sorted(ids) == sorted(ids_before[name]), name

    # The live monitor: everything A recorded, once, and new results from B.
    def new_results_from_b():
        since = took_over.strftime("%Y-%m-%dT%H:%M:%SZ")
        results = get_json(b, f"/api/v1/monitors/{NS}/web/results?limit=1000&since={since}")
        return len(results["results"]) >= 2
    wait_for(new_results_from_b, timeout=60, interval=1, message="web checked under op-b")
    ids = result_ids(b, "web")
    assert len(ids) == len(set(ids)), "an item id of web twice"
    missing = recorded_by_a - set(ids)
    assert not missing, f"results op-a recorded that op-b does not show: {sorted(missing)}"
    assert sqlite_item_ids(env.workdir / "op-b.db", uids["web"]) <= set(ids)
    duplicated = cluster.clickhouse.rows(
        f"SELECT item_id, count() AS n FROM {DATABASE}.check_results FINAL GROUP BY item_id "
        "HAVING n > 1")
    assert duplicated == [], duplicated
