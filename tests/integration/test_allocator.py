"""The shipped executables allocate with jemalloc, with the options Pharos builds in (freed pages
returned after 1 s instead of 10 s; BENCHMARKS.md §3), unless the build opted out
(-DPHAROS_JEMALLOC=OFF) or uses sanitizers: ctest passes which one the build chose in
PHAROS_ALLOCATOR."""

from __future__ import annotations

import os
import subprocess

import pytest

import pharos

EXECUTABLES = ["pharos", "pharos-probe", "pharos-operator"]


@pytest.mark.parametrize("name", EXECUTABLES)
def test_executable_uses_the_allocator_the_build_chose(name: str) -> None:
    expected = os.environ.get("PHAROS_ALLOCATOR", "jemalloc")
    # stats_print makes jemalloc describe itself at exit; glibc's malloc ignores the variable.
    run = subprocess.run([str(pharos.required_binary(name)), "--help"], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "MALLOC_CONF": "stats_print:true"})
    assert run.returncode == 0, run.stderr[-2000:]
    if expected == "jemalloc":
        assert "Begin jemalloc statistics" in run.stderr
        assert "opt.dirty_decay_ms: 1000" in run.stderr
        assert "opt.muzzy_decay_ms: 0" in run.stderr
        assert "opt.narenas: 1" in run.stderr
        assert "opt.background_thread: true" in run.stderr
        assert "opt.tcache_nslots_small_max: 16" in run.stderr
    else:
        assert "jemalloc" not in run.stderr
