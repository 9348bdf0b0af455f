"""Whether a request could ever run on this inventory, and if not, why in numbers."""

from __future__ import annotations

from aidc.core.resources import Node, Request
from aidc.scheduler.quota import QuotaState, charges_for
from aidc.scheduler.snapshot import Quotas


def why_infeasible(req: Request, nodes: tuple[Node, ...]) -> tuple[str, str] | None:
    """``(field, message)`` naming what no empty cluster of ``nodes`` could give, else None.

    Node states are ignored: a drained node comes back, a job that fits it may wait for it.
    """
    if not nodes:
        return ("nodes", "the center has no nodes yet; ask an operator to add some")
    typed = [n for n in nodes if req.accepts(n.accelerator_type)]
    if not typed:
        types = sorted({n.accelerator_type for n in nodes if n.accelerator_type != "cpu"})
        asked = " or ".join(req.accelerator_types) or "any"
        if req.min_accelerator_memory_gb:
            asked += f" ({req.min_accelerator_memory_gb:g} GB or more)"
        field = "accelerator_type"
        if req.min_accelerator_memory_gb and not req.accelerator_types:
            field = "accelerator_memory_gb"
        return (
            field,
            f"no node has {asked} accelerators; available types: "
            f"{', '.join(types) or 'none (CPU only)'}",
        )
    for field, need, have in (
        ("accelerators", req.accelerators, [n.accelerator_count for n in typed]),
        ("cpus", req.cpus, [n.cpus for n in typed]),
        ("memory_mib", req.memory_mib, [n.memory_mib for n in typed]),
    ):
        most = max(have)
        if need > most:
            return (field, f"asks for {need} per node but the largest suitable node has {most}")
    # A gang runs on one pool and, with accelerators, one accelerator type.
    per_pool: dict[tuple[str, str], int] = {}
    for n in typed:
        if (
            n.accelerator_count >= req.accelerators
            and n.cpus >= req.cpus
            and n.memory_mib >= req.memory_mib
        ):
            key = (n.pool, n.accelerator_type if req.accelerators else "")
            per_pool[key] = per_pool.get(key, 0) + 1
    if not per_pool:
        if req.accelerators:
            return (
                "accelerators",
                "no single node has all of the asked accelerators, cpus and memory",
            )
        # A CPU job must not be told to fix the accelerators it did not ask for.
        return (
            "cpus",
            f"no single node has both {req.cpus} cpus and {req.memory_mib} MiB of memory",
        )
    most_nodes = max(per_pool.values())
    if req.nodes > most_nodes:
        return (
            "nodes",
            f"asks for {req.nodes} nodes but at most {most_nodes} suitable nodes share a pool"
            + (" and accelerator type" if req.accelerators else ""),
        )
    return None


def why_never_within_nominal(
    req: Request, project: str, quotas: Quotas, nodes: tuple[Node, ...]
) -> str | None:
    """Why a job that may not borrow (interactive) could never start: on every acceptable
    type it asks more of a managed resource than the project's nominal quota."""
    state = QuotaState(quotas, nodes, {})
    types = sorted({n.accelerator_type for n in nodes if req.accepts(n.accelerator_type)})
    if not req.accelerators:
        types = ["cpu"]
    worst = None
    for t in types:
        over = [
            (r, amount, state.project_nominal(project, r))
            for r, amount in charges_for(req, t).items()
            if r in state.managed and amount > state.project_nominal(project, r)
        ]
        if not over:
            return None
        worst = worst or over[0]
    if worst is None:
        return None
    r, amount, nominal = worst
    return (
        f"interactive jobs run within nominal quota only: project {project} has {r} "
        f"nominal {nominal:g} and the job asks {amount:g}; ask for less, or submit it as "
        "normal to borrow idle quota"
    )
