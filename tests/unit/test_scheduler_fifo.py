"""First-fit strict FIFO: never two jobs on a device, never past a node's size, in order."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.resources import Node, NodePlacement, NodeState, Placement, Request
from aidc.scheduler import Decision, PendingJob, RunningJob, Snapshot, plan
from tests.unit.strategies import snapshots

SETTINGS = settings(max_examples=150, deadline=None)


def snap(
    nodes: list[Node], queue: list[PendingJob], running: tuple[RunningJob, ...] = ()
) -> Snapshot:
    return Snapshot(tuple(nodes), running, tuple(queue), {"gpu": "local", "cpu": "local"})


def gpu_node(name: str, count: int, pool: str = "gpu", acc: str = "h100", **kw: object) -> Node:
    return Node(name, pool, 32, 65536, acc, tuple(range(count)), **kw)  # type: ignore[arg-type]


def job(
    job_id: str, accelerators: int = 1, nodes: int = 1, at: float = 0.0, **kw: object
) -> PendingJob:
    fields: dict[str, object] = {"cpus": 1, "memory_mib": 1024, "accelerator_type": None}
    fields.update(kw)
    return PendingJob(job_id, Request(nodes=nodes, accelerators=accelerators, **fields), at)  # type: ignore[arg-type]


def in_order(snapshot: Snapshot) -> list[PendingJob]:
    return sorted(snapshot.queue, key=lambda j: (j.submitted_at, j.job_id))


def held_per_node(snapshot: Snapshot, decisions: list[Decision]) -> dict[str, list[NodePlacement]]:
    held: dict[str, list[NodePlacement]] = {}
    placements = [r.placement for r in snapshot.running] + [d.placement for d in decisions]
    for p in placements:
        for np in p.nodes:
            held.setdefault(np.node, []).append(np)
    return held


# Properties over random clusters, running jobs and queues.


@SETTINGS
@given(snapshots())
def test_no_device_is_held_twice(snapshot: Snapshot) -> None:
    nodes = {n.name: n for n in snapshot.nodes}
    for name, held in held_per_node(snapshot, plan(snapshot)).items():
        devices = [d for np in held for d in np.devices]
        assert len(devices) == len(set(devices)), (name, devices)
        assert set(devices) <= set(nodes[name].devices)


@SETTINGS
@given(snapshots())
def test_no_node_is_oversubscribed(snapshot: Snapshot) -> None:
    nodes = {n.name: n for n in snapshot.nodes}
    for name, held in held_per_node(snapshot, plan(snapshot)).items():
        assert sum(np.cpus for np in held) <= nodes[name].cpus
        assert sum(np.memory_mib for np in held) <= nodes[name].memory_mib


@SETTINGS
@given(snapshots())
def test_placements_match_their_requests(snapshot: Snapshot) -> None:
    nodes = {n.name: n for n in snapshot.nodes}
    requests = {j.job_id: j.request for j in snapshot.queue}
    decisions = plan(snapshot)
    assert len({d.job_id for d in decisions}) == len(decisions)
    for d in decisions:
        req = requests[d.job_id]
        names = [np.node for np in d.placement.nodes]
        assert len(names) == req.nodes
        assert len(set(names)) == req.nodes, "a multi-node job got one node twice"
        for np in d.placement.nodes:
            node = nodes[np.node]
            assert node.pool == d.placement.pool
            assert node.state is NodeState.UP
            assert (np.cpus, np.memory_mib) == (req.cpus, req.memory_mib)
            assert len(np.devices) == req.accelerators
            assert np.accelerator_type == node.accelerator_type
            if req.accelerators:
                assert node.accelerator_type != "cpu"
                assert req.accelerator_type in (None, node.accelerator_type)


@SETTINGS
@given(snapshots())
def test_strict_fifo(snapshot: Snapshot) -> None:
    order = [j.job_id for j in in_order(snapshot)]
    admitted = [d.job_id for d in plan(snapshot)]
    assert admitted == order[: len(admitted)]


@SETTINGS
@given(snapshots())
def test_the_blocked_head_really_does_not_fit(snapshot: Snapshot) -> None:
    decisions = plan(snapshot)
    rest = in_order(snapshot)[len(decisions) :]
    if not rest:
        return
    after = Snapshot(
        snapshot.nodes,
        snapshot.running + tuple(RunningJob(d.job_id, d.placement) for d in decisions),
        (rest[0],),
        snapshot.pool_engines,
    )
    assert plan(after) == []


@SETTINGS
@given(snapshots(), st.randoms(use_true_random=False))
def test_plan_is_deterministic_and_ignores_input_order(
    snapshot: Snapshot, rnd: random.Random
) -> None:
    first = plan(snapshot)
    assert plan(snapshot) == first
    nodes, queue, running = list(snapshot.nodes), list(snapshot.queue), list(snapshot.running)
    for xs in (nodes, queue, running):
        rnd.shuffle(xs)
    shuffled = Snapshot(tuple(nodes), tuple(running), tuple(queue), snapshot.pool_engines)
    assert plan(shuffled) == first


@SETTINGS
@given(snapshots())
def test_plan_does_not_change_the_snapshot(snapshot: Snapshot) -> None:
    before = repr(snapshot)
    plan(snapshot)
    assert repr(snapshot) == before


# Examples.


def test_two_gpus_three_one_gpu_jobs() -> None:
    decisions = plan(snap([gpu_node("g1", 2)], [job("j1"), job("j2"), job("j3")]))
    assert [d.job_id for d in decisions] == ["j1", "j2"]
    d1, d2 = (d.placement.nodes[0].devices for d in decisions)
    assert len(d1) == len(d2) == 1
    assert set(d1).isdisjoint(d2)


def test_multi_node_request_takes_distinct_nodes() -> None:
    nodes = [gpu_node(f"g{i}", 8) for i in range(3)]
    (d,) = plan(snap(nodes, [job("big", accelerators=8, nodes=3)]))
    assert sorted(np.node for np in d.placement.nodes) == ["g0", "g1", "g2"]
    assert all(np.devices == tuple(range(8)) for np in d.placement.nodes)


def test_multi_node_request_does_not_span_pools() -> None:
    nodes = [gpu_node("g1", 1, pool="gpu"), gpu_node("g2", 1, pool="cpu")]
    assert plan(snap(nodes, [job("j", nodes=2)])) == []


def test_devices_of_running_jobs_are_not_reused() -> None:
    held = Placement("gpu", (NodePlacement("g1", 1, 1024, "h100", (0, 2)),))
    decisions = plan(snap([gpu_node("g1", 4)], [job("j", 2)], (RunningJob("r", held),)))
    assert decisions[0].placement.nodes[0].devices == (1, 3)


def test_running_jobs_on_removed_nodes_are_ignored() -> None:
    held = Placement("gpu", (NodePlacement("gone", 1, 1024, "h100", (0,)),))
    decisions = plan(snap([gpu_node("g1", 1)], [job("j")], (RunningJob("r", held),)))
    assert decisions[0].placement.nodes[0].devices == (0,)


def test_head_of_line_blocks_smaller_jobs_behind_it() -> None:
    queue = [job("small", 1, at=2.0), job("big", 4, at=1.0)]
    assert plan(snap([gpu_node("g1", 2)], queue)) == []


def test_submission_time_then_id_orders_the_queue() -> None:
    queue = [job("b", at=1.0), job("c", at=0.5), job("a", at=1.0)]
    assert [d.job_id for d in plan(snap([gpu_node("g1", 8)], queue))] == ["c", "a", "b"]


def test_drained_and_down_nodes_get_nothing() -> None:
    nodes = [
        gpu_node("g1", 2, state=NodeState.DRAINED),
        gpu_node("g2", 2, state=NodeState.DOWN),
        gpu_node("g3", 2),
    ]
    decisions = plan(snap(nodes, [job("j1"), job("j2"), job("j3")]))
    assert [d.placement.nodes[0].node for d in decisions] == ["g3", "g3"]


def test_accelerator_type_must_match() -> None:
    nodes = [gpu_node("a", 4, acc="a100"), gpu_node("h", 4, acc="h100")]
    (d,) = plan(snap(nodes, [job("j", 2, accelerator_type="h100")]))
    assert d.placement.nodes[0].node == "h"
    assert d.placement.nodes[0].accelerator_type == "h100"
    assert plan(snap(nodes, [job("k", 1, accelerator_type="l40s")])) == []


def test_gpu_jobs_never_land_on_cpu_nodes() -> None:
    cpu = Node("c1", "cpu", 64, 65536)
    assert plan(snap([cpu], [job("j", 1)])) == []
    (d,) = plan(snap([cpu], [job("k", 0, cpus=64)]))
    assert d.placement.nodes[0].devices == ()


def test_cpus_and_memory_are_consumed() -> None:
    node = Node("c1", "cpu", 8, 4096)
    queue = [job(f"j{i}", 0, cpus=3, memory_mib=1024) for i in range(3)]
    assert [d.job_id for d in plan(snap([node], queue))] == ["j0", "j1"]
    queue = [job(f"m{i}", 0, cpus=1, memory_mib=1500) for i in range(3)]
    assert [d.job_id for d in plan(snap([node], queue))] == ["m0", "m1"]
