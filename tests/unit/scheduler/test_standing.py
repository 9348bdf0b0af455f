"""The free capacity and quota use a Planner keeps between passes equal a fresh build's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.policy import Policy
from aidc.scheduler import Planner, RunningJob, Snapshot
from aidc.scheduler.placement import Capacity
from aidc.scheduler.snapshot import Plan
from aidc.scheduler.standing import Standing, fresh_charges
from tests.unit.scheduler.build import gpu_node, pending, running

NODES = (
    gpu_node("n1", 4),
    gpu_node("n2", 4, rack="r2"),
    gpu_node("n3", 2, kind="h100"),
)
KINDS = {"n1": "a100", "n2": "a100", "n3": "h100"}


def state(cap: Capacity) -> tuple[object, object]:
    free = {k: (f.cpus, f.memory_mib, tuple(f.devices)) for k, f in cap.free.items()}
    buckets = {
        (t, c): tuple(names)
        for t, by_count in cap._buckets.items()
        for c, names in by_count.items()
        if names
    }
    return free, buckets


@st.composite
def running_sets(draw: st.DrawFn) -> tuple[RunningJob, ...]:
    """Jobs on distinct devices of the three nodes, from a small pool of ids and projects."""
    out = []
    for node in NODES:
        devices = list(node.devices)
        while devices and draw(st.booleans()):
            take = draw(st.integers(1, len(devices)))
            held, devices = tuple(devices[:take]), devices[take:]
            job = draw(st.sampled_from([f"j{i}" for i in range(8)]))
            if any(r.job_id == job for r in out):
                continue
            out.append(
                running(
                    job,
                    node.name,
                    held,
                    project=draw(st.sampled_from("abc")),
                    cls=draw(st.sampled_from(["normal", "opportunistic"])),
                    kind=KINDS[node.name],
                )
            )
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(st.lists(running_sets(), min_size=1, max_size=8))
def test_kept_capacity_and_charges_equal_a_fresh_build(steps: list[tuple[RunningJob, ...]]) -> None:
    standing = Standing()
    policy = Policy()
    beyond = frozenset(n for n, c in policy.classes.items() if c.beyond_quota)
    for jobs in steps:
        snap = Snapshot(NODES, jobs, (), {}, policy=policy)
        cap = standing.capacity(snap)
        assert state(cap) == state(Capacity(NODES, jobs, policy.placement.topology_label))
        fresh = fresh_charges(jobs, beyond)
        kept = {p: {r: v for r, v in c.items() if v} for p, c in standing.charged(snap).items()}
        assert kept == {p: {r: v for r, v in c.items() if v} for p, c in fresh.items()}
        assert set(standing.charged(snap)) == set(fresh)  # no project left behind at zero
        standing.kept(cap, Plan())


def test_a_plans_explanations_expire_when_the_planner_plans_again() -> None:
    planner = Planner()
    busy = (running("r", "n1", (0, 1, 2, 3)),)
    snap = Snapshot((gpu_node("n1", 4),), busy, (pending("w"),), {})
    first = planner.plan(snap)
    read = planner.plan(snap)
    assert [w.job_id for w in read.waiting] == ["w"]
    planner.plan(snap)
    assert [w.job_id for w in read.waiting] == ["w"]  # read in time: kept
    with pytest.raises(RuntimeError, match="read before the same Planner plans again"):
        _ = first.waiting
