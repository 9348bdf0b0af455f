"""Small builders for hand-checked scheduler scenarios."""

from __future__ import annotations

from collections.abc import Mapping

from aidc.core.policy import Policy
from aidc.core.resources import Node, NodePlacement, Placement, Request
from aidc.scheduler import (
    PendingJob,
    Plan,
    QuotaLimit,
    QuotaNode,
    Quotas,
    RunningJob,
    Snapshot,
    plan,
)

GIB = 1024
NOW = 1000.0


def gpu_node(
    name: str, count: int = 8, kind: str = "a100", pool: str = "gpu", rack: str = "r1"
) -> Node:
    return Node(name, pool, 64, 512 * GIB, kind, tuple(range(count)), {"rack": rack})


def running(
    job_id: str,
    node: str,
    devices: tuple[int, ...],
    project: str = "p",
    cls: str = "normal",
    started: float = 0.0,
    limit: float = 3600.0,
    kind: str = "a100",
    pool: str = "gpu",
    stopping: bool = False,
) -> RunningJob:
    held = NodePlacement(node, 1, GIB, kind, devices)
    return RunningJob(job_id, Placement(pool, (held,)), project, cls, started, limit, stopping)


def pending(
    job_id: str,
    gpus: int = 1,
    nodes: int = 1,
    project: str = "p",
    cls: str = "normal",
    at: float = 0.0,
    limit: float | None = None,
    types: tuple[str, ...] = ("a100",),
    seq: int = 0,
    **kw: object,
) -> PendingJob:
    req = Request(nodes, 1, GIB, gpus, types if gpus else ())
    return PendingJob(
        job_id,
        req,
        at,
        project,
        seq,
        cls,
        time_limit_s=limit,
        **kw,  # type: ignore[arg-type]
    )


def quotas(
    projects: Mapping[str, Mapping[str, tuple[float, float | None, float | None]]],
    parents: Mapping[str, str] | None = None,
    cohorts: Mapping[str, str | None] | None = None,
    cohort_limits: Mapping[str, Mapping[str, tuple[float, float | None, float | None]]]
    | None = None,
    shares: Mapping[str, float] | None = None,
) -> Quotas:
    """``projects``: name -> resource -> (nominal, borrowing limit, lending limit)."""
    parents = parents or {}
    cohorts = cohorts or {"org": None}
    cohort_limits = cohort_limits or {}
    return Quotas(
        cohorts=tuple(
            QuotaNode(
                c,
                parent,
                {r: QuotaLimit(*v) for r, v in cohort_limits.get(c, {}).items()},
            )
            for c, parent in cohorts.items()
        ),
        projects=tuple(
            QuotaNode(
                p,
                parents.get(p, "org"),
                {r: QuotaLimit(*v) for r, v in lims.items()},
                (shares or {}).get(p, 1.0),
            )
            for p, lims in projects.items()
        ),
    )


def run(
    nodes: tuple[Node, ...] | list[Node],
    queue: list[PendingJob],
    active: list[RunningJob] | None = None,
    q: Quotas | None = None,
    policy: Policy | None = None,
    usage: Mapping[str, float] | None = None,
    now: float = NOW,
) -> Plan:
    return plan(
        Snapshot(
            tuple(nodes),
            tuple(active or ()),
            tuple(queue),
            {},
            q or Quotas(),
            usage or {},
            policy or Policy(),
            now,
        )
    )


def admitted(p: Plan) -> list[str]:
    return [d.job_id for d in p.admit]


def why(p: Plan, job_id: str) -> str:
    return next(f"{w.reason}: {w.message}" for w in p.waiting if w.job_id == job_id)
