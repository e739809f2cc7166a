"""Pharos' ClickHouse SQL on a current ClickHouse engine: chDB (PyPI chdb-core, an in-process
ClickHouse 26.x, installed by scripts/setup) runs every statement the code sends (printed by
pharos-clickhouse-statements from ClickHouseSchema and ClickHouseHistoryReader themselves): the
DDL and the version-1 migration, an insert of sample rows, the rollup refreshes, every history
query, the version-2 migration (rollups emptied and recomputed) and every query again. The same
statements run on the Debian ClickHouse 18.16 server of the other suites: both engines must give
the same answers (rows compared as values, in any order), and the same after the migration as
before it.

Contract: docs/analytics.md ("Tested ClickHouse versions").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
from clickhouse import ClickHouse  # noqa: E402

try:
    from chdb import session as chdb_session
except ImportError as missing:  # never a skip: the suite would pass having tested nothing
    raise RuntimeError("chDB (PyPI chdb-core) is missing: run scripts/setup") from missing


def statements() -> list[dict]:
    binary = Path(os.environ.get("PHAROS_BIN_DIR", pharos.REPO_ROOT / "build" / "bin")) \
        / "pharos-clickhouse-statements"
    assert binary.exists(), f"{binary} is missing: build the target pharos-clickhouse-statements"
    # Half past an hour: windows have raw edges, hourly and daily rollups.
    now = (int(time.time()) // 3600) * 3600 + 1800
    out = subprocess.run([str(binary), "--now", str(now)], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def normalized(answer: str) -> list[str]:
    """JSONEachRow rows as comparable values: 64-bit integers are quoted by 18.16 and not by
    current releases; DateTime text is the same in both."""
    def value(v):
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, str) and v.lstrip("-").isdigit():
            return int(v)
        return v
    rows = []
    for line in answer.splitlines():
        if line.strip():
            row = json.loads(line)
            row = {k: value(v) for k, v in row.items()} if isinstance(row, dict) else value(row)
            rows.append(json.dumps(row, sort_keys=True))
    return sorted(rows)


def run_all(execute, sqls: list[dict]) -> dict[str, list[str]]:
    """Runs every statement in order; the answers of the reads (and the version check)."""
    answers: dict[str, list[str]] = {}
    for index, statement in enumerate(sqls):
        try:
            answer = execute(statement["sql"])
        except Exception as error:  # noqa: BLE001 - the engine's own error, with the statement
            raise AssertionError(f"{statement['kind']} {statement['name']} failed: {error}\n"
                                 f"{statement['sql'][:2000]}") from None
        if statement["kind"] == "read" or "max(version)" in statement["sql"]:
            answers[f"{index} {statement['name']}"] = normalized(answer)
    return answers


def test_every_statement_runs_on_a_current_clickhouse_with_the_answers_of_18_16(tmp_path):
    sqls = statements()
    kinds = {s["kind"] for s in sqls}
    assert kinds == {"ensure", "insert", "refresh", "read", "migrate"}, kinds
    names = {s["name"] for s in sqls if s["kind"] == "read"}
    assert {"Stats", "SummarizeMany", "Rollups/hour", "CountRollups/day", "ResultSeries",
            "Results/newest"} <= names, names

    current = chdb_session.Session(str(tmp_path / "chdb"))
    try:
        version = str(current.query("SELECT version()", "TabSeparated")).strip()
        assert int(version.split(".")[0]) >= 24, version
        on_current = run_all(lambda sql: str(current.query(sql, "TabSeparated")), sqls)
    finally:
        current.close()

    with ClickHouse(tmp_path / "ch18") as old:
        old_version = old.query("SELECT version()").strip()
        on_old = run_all(old.query, sqls)

    # The summaries hold every sample row: 864 per monitor in the 30-day window.
    summaries = next(v for k, v in on_current.items() if k.endswith(" SummarizeMany"))
    thirty_days = {}
    for row in map(json.loads, summaries):
        if row["w"] == 2:
            thirty_days[row["m"]] = thirty_days.get(row["m"], 0) + row["n"]
    assert thirty_days == {"file:shop/home": 864, "file:shop/cart": 864}, thirty_days
    assert all(on_current[k] for k in on_current if "Results" in k), on_current.keys()

    for engine, answers in (("current", on_current), ("18.16", on_old)):
        by_name = {k.split(" ", 1)[1]: v for k, v in answers.items()}
        for name, migrated in by_name.items():
            if name.endswith("/migrated"):
                assert migrated == by_name[name[:-len("/migrated")]], (engine, name)

    different = [k for k in on_current if on_current[k] != on_old[k]]
    assert not different, (f"ClickHouse {version} and {old_version} answer differently: "
                           + "; ".join(f"{k}: {on_current[k][:3]} vs {on_old[k][:3]}"
                                       for k in different))
