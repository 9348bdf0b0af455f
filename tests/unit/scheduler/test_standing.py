"""The free capacity and quota use a Planner keeps between passes equal a fresh build's."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.policy import Policy
from aidc.scheduler import Planner, RunningJob, Snapshot
from aidc.scheduler.placement import Capacity
from aidc.scheduler.quota import QuotaState
from aidc.scheduler.snapshot import Decision, Plan
from aidc.scheduler.standing import Standing, fresh_charges
from tests.unit.scheduler.build import gpu_node, pending, quotas, running

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


# a and b have quota in one cohort; c has none (it sits under the root when it runs).
QUOTAS = quotas(
    {"a": {"a100": (4, None, None)}, "b": {"a100": (2, 1, None), "h100": (1, None, None)}},
    parents={"a": "org", "b": "org"},
    cohorts={"org": None},
)


def quota_state(q: QuotaState) -> tuple[object, ...]:
    return (q.parent, q.children, q.quota, q.lendable, q.reserved, q.used, q.draw, q.child_draw)


def free_devices(jobs: list[RunningJob], node: str) -> list[int]:
    taken = {d for r in jobs for n in r.placement.nodes if n.node == node for d in n.devices}
    return [d for d in next(n for n in NODES if n.name == node).devices if d not in taken]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_kept_capacity_and_charges_equal_a_fresh_build(data: st.DataObject) -> None:
    """Jobs end, start, come back as equal new objects, change project or class, and are
    admitted by a pass (then start where admitted, elsewhere, or not at all)."""
    standing = Standing()
    policy = Policy()
    beyond = frozenset(n for n, c in policy.classes.items() if c.beyond_quota)
    jobs: list[RunningJob] = []
    admitted: list[RunningJob] = []
    ids = itertools.count()
    for _ in range(data.draw(st.integers(1, 10))):
        for a in admitted:
            if data.draw(st.booleans()):
                jobs.append(a)  # started where the pass put it
        admitted = []
        for _ in range(data.draw(st.integers(0, 4))):
            action = data.draw(st.sampled_from(["end", "start", "copy", "move", "admit"]))
            if action in ("end", "copy", "move") and jobs:
                k = data.draw(st.integers(0, len(jobs) - 1))
                old = jobs.pop(k)
                if action == "copy":
                    jobs.append(replace(old))  # equal, not the same object
                elif action == "move":
                    cls = data.draw(st.sampled_from(["normal", "opportunistic"]))
                    jobs.append(
                        replace(old, project=data.draw(st.sampled_from("abc")), priority_class=cls)
                    )
                continue
            node = data.draw(st.sampled_from([n.name for n in NODES]))
            free = free_devices(jobs + admitted, node)
            if not free:
                continue
            held = tuple(free[: data.draw(st.integers(1, len(free)))])
            job = running(
                f"j{next(ids)}",
                node,
                held,
                project=data.draw(st.sampled_from("abc")),
                cls=data.draw(st.sampled_from(["normal", "opportunistic"])),
                kind=KINDS[node],
            )
            (admitted if action == "admit" else jobs).append(job)
        snap = Snapshot(NODES, tuple(jobs), (), {}, QUOTAS, policy=policy)
        cap = standing.sync(snap)
        assert state(cap) == state(Capacity(NODES, snap.running, policy.placement.topology_label))
        fresh = fresh_charges(snap.running, beyond)
        kept = {p: {r: v for r, v in c.items() if v} for p, c in standing.charged.items()}
        assert kept == {p: {r: v for r, v in c.items() if v} for p, c in fresh.items()}
        assert set(standing.charged) == set(fresh)  # no project left behind at zero
        assert set(standing.projects) == {r.project for r in jobs}
        assert quota_state(standing.quota(snap)) == quota_state(QuotaState(QUOTAS, NODES, fresh))
        # The pass admits: it takes them from the capacity, as a real pass does.
        for a in admitted:
            cap.take(a.placement)
        standing.kept(cap, Plan(admit=tuple(Decision(a.job_id, a.placement) for a in admitted)))


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
