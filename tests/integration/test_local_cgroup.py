"""cgroup v2 limits on local jobs (root, with a writable cgroup v2 hierarchy that offers
the memory, cpu and pids controllers): a job runs in ``aidc/<job id>`` with its memory,
cpus and process limit, and the cgroup is gone once it has ended."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aidc.engines.local import LocalEngine
from aidc.engines.local_cgroup import find_hierarchy
from aidc.engines.local_identity import Rlimits
from tests.conftest import local_node
from tests.integration.test_local_engine import request, wait_done


def test_a_job_runs_in_its_own_cgroup_with_its_limits(tmp_path: Path) -> None:
    hierarchy, why = find_hierarchy()
    if hierarchy is None:
        # The kernel's or the machine's layout, like a missing GPU: no package or service
        # would provide it, so a plain skip (not skip_or_fail) even in CI. This machine
        # has the hybrid layout, whose cgroup2 mount offers no memory, cpu or pids.
        pytest.skip(f"no usable cgroup v2 hierarchy: {why}")
    engine = LocalEngine(tmp_path / "home", [local_node()], 1.0, rlimits=Rlimits(processes=64))
    try:
        where = f"{hierarchy.mount}$(grep '^0::' /proc/self/cgroup | cut -d: -f3)"
        probe = f"cat /proc/self/cgroup; d={where}; cat $d/memory.max $d/cpu.max $d/pids.max"
        job = request("cg-1", command=["sh", "-c", probe], memory_mib=256, cpus=2)
        handle = engine.launch(job)
        assert wait_done(engine, handle).outcome.value == "succeeded"
        out = engine.read_log(handle, 0, 1 << 16).decode()
        assert "/aidc/cg-1" in out, out
        assert str(256 * 1024 * 1024) in out and "200000 100000" in out and "65" in out, out
        assert not os.path.exists(hierarchy.parent / "cg-1")  # removed at the end
    finally:
        engine.close()
