"""What cgroup v2 limits a local job gets (engines/local_cgroup.py): which controllers a
hierarchy offers, and the file contents written for a job's request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aidc.engines.local_cgroup import CPU_PERIOD_US, limit_files, usable_controllers

ALL = frozenset({"memory", "cpu", "pids"})


def test_only_the_three_controllers_the_hierarchy_offers_are_used() -> None:
    assert usable_controllers("cpuset cpu io memory hugetlb pids rdma misc\n") == ALL
    # This machine's hybrid layout: the cgroup2 mount offers hugetlb alone.
    assert usable_controllers("hugetlb\n") == frozenset()
    assert usable_controllers("") == frozenset()
    assert usable_controllers("memory pids") == {"memory", "pids"}


def test_a_job_gets_its_memory_cpus_and_process_limit() -> None:
    files = limit_files(ALL, ranks=1, memory_mib=2048, cpus=4, max_processes=512)
    assert files == {
        "memory.max": str(2048 * 1024 * 1024),
        "cpu.max": f"{4 * CPU_PERIOD_US} {CPU_PERIOD_US}",
        "pids.max": "513",  # and the supervisor, which sits in the cgroup too
    }


def test_without_a_process_limit_or_a_controller_nothing_is_written_for_it() -> None:
    files = limit_files(frozenset({"memory", "pids"}), ranks=1, memory_mib=1, cpus=1,
                        max_processes=None)  # fmt: skip
    assert files == {"memory.max": str(1024 * 1024)}
    assert limit_files(frozenset(), ranks=2, memory_mib=1, cpus=1, max_processes=9) == {}


@given(
    ranks=st.integers(1, 64),
    memory_mib=st.integers(1, 64 * 1024 * 1024),
    cpus=st.integers(1, 1024),
    procs=st.none() | st.integers(1, 1 << 20),
)
def test_the_limits_grow_with_the_ranks_and_are_what_the_kernel_parses(
    ranks: int, memory_mib: int, cpus: int, procs: int | None
) -> None:
    files = limit_files(ALL, ranks=ranks, memory_mib=memory_mib, cpus=cpus, max_processes=procs)
    assert int(files["memory.max"]) == ranks * memory_mib << 20
    quota, period = (int(x) for x in files["cpu.max"].split())
    assert period == CPU_PERIOD_US and quota / period == ranks * cpus
    assert ("pids.max" in files) == (procs is not None)
    if procs is not None:
        assert int(files["pids.max"]) == ranks * procs + 1
    assert all(v.isascii() and "\n" not in v for v in files.values())
