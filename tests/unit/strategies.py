"""Hypothesis strategies for scheduler tests: small clusters, requests and queues."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from aidc.core.resources import Node, NodeState, Request
from aidc.scheduler import PendingJob, RunningJob, Snapshot, plan

POOLS = ("a", "b")
TYPES = ("cpu", "h100", "a100")

node_states = st.sampled_from([NodeState.UP] * 4 + [NodeState.DRAINED, NodeState.DOWN])


@st.composite
def nodes(draw: st.DrawFn, min_nodes: int = 1, max_nodes: int = 6) -> tuple[Node, ...]:
    """Between ``min_nodes`` and ``max_nodes`` uniquely named nodes: random pools, types,
    devices, sizes and states."""
    out = []
    for i in range(draw(st.integers(min_nodes, max_nodes))):
        acc = draw(st.sampled_from(TYPES))
        devices: tuple[int, ...] = ()
        if acc != "cpu":
            devices = tuple(sorted(draw(st.sets(st.integers(0, 7), max_size=8))))
        out.append(
            Node(
                name=f"n{i}",
                pool=draw(st.sampled_from(POOLS)),
                cpus=draw(st.integers(1, 32)),
                memory_mib=draw(st.integers(512, 16384)),
                accelerator_type=acc,
                devices=devices,
                state=draw(node_states),
            )
        )
    return tuple(out)


# Mostly small requests, so that queues get admitted, with some that cannot fit at all.
requests = st.builds(
    Request,
    nodes=st.sampled_from([1, 1, 1, 2, 3]),
    cpus=st.integers(1, 8),
    memory_mib=st.integers(1, 2048),
    accelerators=st.sampled_from([0, 0, 1, 1, 2, 4]),
    accelerator_types=st.sampled_from([(), (), ("h100",), ("a100",)]),
)


@st.composite
def queues(draw: st.DrawFn, prefix: str, max_jobs: int = 8) -> tuple[PendingJob, ...]:
    reqs = draw(st.lists(requests, max_size=max_jobs))
    return tuple(
        PendingJob(f"{prefix}{i:02d}", r, float(draw(st.integers(0, 5))))
        for i, r in enumerate(reqs)
    )


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    """A cluster whose running jobs were placed by planning an earlier snapshot (when node
    states may have differed), and a fresh queue."""
    now = draw(nodes(min_nodes=2, max_nodes=8))
    before = tuple(replace(n, state=draw(node_states)) for n in now)
    earlier = Snapshot(before, (), draw(queues("r")), dict.fromkeys(POOLS, "local"))
    running = tuple(RunningJob(d.job_id, d.placement) for d in plan(earlier))
    return Snapshot(now, running, draw(queues("q")), dict.fromkeys(POOLS, "local"))
