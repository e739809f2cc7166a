"""The wall clock stepping under a running `pharos run` (issue #16, "Time"): an LD_PRELOAD shim
(tests/support/wall_clock_offset.c; libfaketime hangs jemalloc-linked binaries,
wolfcw/libfaketime#130) moves the process's wall clock back an hour, then forward two, while
its monotonic clock runs on. Checks must keep coming at their cadence (results keep arriving through the
API, with unique, ordered item ids), a monitor that is Up stays Up, and a target taken down
after the steps is still detected. Results record the wall clock (startedAt) while scheduledAt
and the ids follow the schedule's monotonic time line.

Contract: docs/testing.md ("Fault injection"), docs/architecture.md ("Time").
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import pharos  # noqa: E402
from pharos_run import PharosRun  # noqa: E402

SHIM_SOURCE = Path(__file__).resolve().parents[1] / "support" / "wall_clock_offset.c"
NAMESPACE = "clock"
HOUR_S = 3600


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def set_offset(offset_file: Path, seconds: int) -> None:
    """Sets the process's wall clock to real time + `seconds` (atomically: the shim must never
    read the file half written)."""
    partial = offset_file.with_suffix(".tmp")
    partial.write_text(f"{seconds:+d}\n")
    os.replace(partial, offset_file)


def results(run: PharosRun, name: str) -> list[dict]:
    """Every result of the monitor (since the epoch), oldest first."""
    found = run.json(f"/api/v1/monitors/{NAMESPACE}/{name}/results"
                     "?since=0001-01-01T00:00:00Z&limit=1000")["results"]
    return list(reversed(found))


def more_results(run: PharosRun, name: str, than: int, count: int = 2) -> list[dict]:
    """Waits until the monitor has at least `count` results more than `than`."""
    return pharos.wait_for(lambda: (r := results(run, name)) and len(r) >= than + count and r,
                           timeout=60, interval=0.5,
                           message=f"{count} more results of {name} (had {than})")


def assert_unique_and_ordered(found: list[dict]) -> None:
    ids = [r["itemId"] for r in found]
    assert len(set(ids)) == len(ids), f"an item id was repeated: {ids}"
    millis = [int(i.rsplit("@", 1)[1]) for i in ids]
    assert millis == sorted(millis), f"item ids out of order: {ids}"
    scheduled = [parse_time(r["scheduledAt"]) for r in found]
    assert scheduled == sorted(scheduled), f"scheduledAt went back: {scheduled}"


@pytest.fixture
def wall_clock(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shim = tmp_path / "wall_clock_offset.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(SHIM_SOURCE)],
                   check=True)
    offset_file = tmp_path / "wall-offset"
    set_offset(offset_file, 0)
    return offset_file, {"LD_PRELOAD": str(shim), "PHAROS_WALL_OFFSET_FILE": str(offset_file)}


def test_checks_keep_their_cadence_when_the_wall_clock_steps(tmp_path, target, tag, wall_clock):
    offset_file, env = wall_clock
    rules = {"failureThreshold": 1, "successThreshold": 1}
    docs = [pharos.monitor("steady", "http", namespace=NAMESPACE, frequency="10s", timeout="2s",
                           http={"url": target.url(f"/status/200?tag={tag}-steady")},
                           alerting=rules),
            pharos.monitor("flip", "http", namespace=NAMESPACE, frequency="10s", timeout="2s",
                           http={"url": target.url(f"/state/{tag}-flip")}, alerting=rules)]
    target.set_state(f"{tag}-flip", 200, "ok")
    path = pharos.write_monitors(tmp_path / "monitors", docs)
    run = PharosRun(tmp_path, [path], env=env)
    try:
        run.wait_states({"steady": "Up", "flip": "Up"}, timeout=60)
        # The shim is in force: the process's wall clock is what the offset file says.
        set_offset(offset_file, -HOUR_S)
        before = results(run, "steady")

        # Back an hour: no stall. New results arrive, their startedAt (the wall clock) an hour
        # behind, their scheduledAt and ids after every earlier one.
        after_back = more_results(run, "steady", len(before))
        stepped = [r for r in after_back[len(before):]
                   if parse_time(r["startedAt"]) < parse_time(r["scheduledAt"]) - HOUR_S / 2]
        assert stepped, ("no result recorded the stepped-back wall clock: the shim did not "
                         f"apply\n{after_back[len(before):]}\n{run.output()}")
        assert_unique_and_ordered(after_back)
        assert run.monitors()["steady"]["state"] == "Up"
        assert run.monitors()["flip"]["state"] == "Up"

        # Forward two hours (an hour ahead of real time): no burst of an hour's slots.
        set_offset(offset_file, HOUR_S)
        after_forward = more_results(run, "steady", len(after_back))
        assert_unique_and_ordered(after_forward)
        first_scheduled = parse_time(after_back[-1]["scheduledAt"])
        burst = [r for r in after_forward if parse_time(r["scheduledAt"]) > first_scheduled]
        spread = parse_time(burst[-1]["scheduledAt"]) - parse_time(burst[0]["scheduledAt"])
        assert spread >= 10 * (len(burst) - 1) - 1, f"results closer than their 10 s: {burst}"
        assert all(r["outcome"] == "up" for r in after_forward[len(before):]), after_forward
        assert run.monitors()["steady"]["state"] == "Up"

        # A target taken down after the steps is still detected, and comes back.
        target.set_state(f"{tag}-flip", 500, "broken")
        run.wait_states({"flip": "Down", "steady": "Up"}, timeout=60)
        target.set_state(f"{tag}-flip", 200, "ok")
        run.wait_states({"flip": "Up"}, timeout=60)
        assert run.stop() == 0, run.output()
    finally:
        run.kill()
