"""The inventory in the store: pools and nodes as engines report them, and their use."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.resources import Node, NodeState, Placement, Pool
from aidc.core.tenancy import Principal
from aidc.scheduler.free import free_capacity
from aidc.scheduler.snapshot import RunningJob
from aidc.schemas import NodeView
from aidc.services.center import Center
from aidc.store.models import JobRow, NodeRow, PoolRow, Project


def sync_inventory(
    center: Center, pools: list[Pool], nodes: list[Node], keep: set[str] | None = None
) -> None:
    """Make the store's pools and nodes what the engines report; nodes gone are marked
    down, except in the pools of ``keep`` (their engine could not report just now)."""
    now = center.clock()
    with center.db.transaction() as s:
        for pool in pools:
            row = s.get(PoolRow, pool.name)
            if row is None:
                s.add(PoolRow(name=pool.name, engine=pool.engine))
            else:
                row.engine = pool.engine
        s.flush()
        seen = set()
        for n in nodes:
            seen.add(n.name)
            nrow = s.get(NodeRow, n.name) or NodeRow(name=n.name)
            nrow.pool, nrow.cpus, nrow.memory_mib = n.pool, n.cpus, n.memory_mib
            nrow.accelerator_type, nrow.devices = n.accelerator_type, list(n.devices)
            nrow.labels, nrow.state, nrow.state_reason = dict(n.labels), n.state, n.state_reason
            nrow.updated_at = now
            s.add(nrow)
        for nrow in s.scalars(select(NodeRow)):
            if nrow.name in seen or nrow.pool in (keep or ()):
                continue
            if nrow.state != NodeState.DOWN:
                nrow.state, nrow.state_reason = NodeState.DOWN, "no longer in the inventory"
                nrow.updated_at = now


def refresh_engine_nodes(center: Center, engine: str, nodes: list[Node] | None, why: str) -> None:
    """Store what engine ``engine`` reports about its pools' nodes now. ``nodes`` None: it
    could not be asked, so every node of its pools is DOWN with ``why`` until it answers."""
    with center.db.read() as s:
        engines = pool_engines(s)
        mine = [Pool(name, kind) for name, kind in engines.items() if kind == engine]
        others = {name for name, kind in engines.items() if kind != engine}
        if nodes is None:
            names = {p.name for p in mine}
            nodes = [
                replace(n, state=NodeState.DOWN, state_reason=why)
                for n in inventory_nodes(s)
                if n.pool in names
            ]
    sync_inventory(center, mine, nodes, keep=others)


def inventory_nodes(s: Session) -> tuple[Node, ...]:
    # Plain columns, not ORM entities: every submission and controller pass reads these.
    rows = s.execute(
        select(
            NodeRow.name,
            NodeRow.pool,
            NodeRow.cpus,
            NodeRow.memory_mib,
            NodeRow.accelerator_type,
            NodeRow.devices,
            NodeRow.labels,
            NodeRow.state,
            NodeRow.state_reason,
        ).order_by(NodeRow.name)
    )
    return tuple(
        Node(name, pool, cpus, memory, acc, tuple(devices), dict(labels), NodeState(state), why)
        for name, pool, cpus, memory, acc, devices, labels, state, why in rows
    )


def pool_engines(s: Session) -> dict[str, str]:
    return {p.name: p.engine for p in s.scalars(select(PoolRow))}


def placed_jobs(s: Session, now: float = 0.0) -> tuple[RunningJob, ...]:
    """Jobs that hold resources now, with where they hold them."""
    states = [str(st) for st in JobState if st.holds_resources]
    rows = s.execute(
        select(
            JobRow.id,
            JobRow.placement,
            Project.name,
            JobRow.priority_class,
            JobRow.started_at,
            JobRow.time_limit_s,
            JobRow.preempt_requested_at,
            JobRow.cancel_requested_at,
        )
        .join(Project, Project.id == JobRow.project_id)
        .where(JobRow.state.in_(states))
        .order_by(JobRow.seq)
    ).all()
    return tuple(
        RunningJob(
            job_id=r[0],
            placement=Placement.from_dict(r[1]),
            project=r[2],
            priority_class=r[3],
            started_at=r[4] if r[4] is not None else now,
            time_limit_s=r[5],
            stopping=r[6] is not None or r[7] is not None,
        )
        for r in rows
        if r[1] is not None
    )


def list_nodes(center: Center, p: Principal) -> list[NodeView]:
    """Every node with what is in use; capacity is public inside the center, jobs are not."""
    with center.db.read() as s:
        nodes = inventory_nodes(s)
        engines = pool_engines(s)
        free = free_capacity(nodes, placed_jobs(s))
    return [
        NodeView(
            name=n.name,
            pool=n.pool,
            engine=engines.get(n.pool, "?"),
            state=n.state,
            state_reason=n.state_reason,
            cpus=n.cpus,
            cpus_used=n.cpus - free[n.name].cpus,
            memory_mib=n.memory_mib,
            memory_mib_used=n.memory_mib - free[n.name].memory_mib,
            accelerator_type=n.accelerator_type,
            accelerators=n.accelerator_count,
            accelerators_used=n.accelerator_count - len(free[n.name].devices),
            free_devices=list(free[n.name].devices),
            labels=n.labels,
        )
        for n in nodes
    ]
