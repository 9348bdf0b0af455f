"""First-fit FIFO: admit queued jobs in submission order while the head of the queue fits.

The head blocks the rest so that a large job is never starved by small ones behind it;
the multi-tenant scheduler (ordering, quotas, backfill) replaces this policy.
"""

from __future__ import annotations

from aidc.core.resources import Placement, Request
from aidc.scheduler.free import FreeNode, free_capacity
from aidc.scheduler.snapshot import Decision, Snapshot


def plan(snapshot: Snapshot) -> list[Decision]:
    """Decisions for this snapshot: never two jobs on one device, never past a node's size."""
    free = free_capacity(snapshot.nodes, snapshot.running)
    decisions: list[Decision] = []
    for job in sorted(snapshot.queue, key=lambda j: (j.submitted_at, j.job_id)):
        placement = _first_fit(job.request, free)
        if placement is None:
            break
        decisions.append(Decision(job.job_id, placement))
    return decisions


def _first_fit(req: Request, free: dict[str, FreeNode]) -> Placement | None:
    """``req.nodes`` distinct nodes of one pool that each fit ``req``, taken in name order."""
    by_pool: dict[str, list[FreeNode]] = {}
    for f in sorted(free.values(), key=lambda f: f.node.name):
        if f.fits(req):
            by_pool.setdefault(f.node.pool, []).append(f)
    for pool in sorted(by_pool):
        candidates = by_pool[pool]
        if len(candidates) >= req.nodes:
            held = tuple(f.take(req) for f in candidates[: req.nodes])
            return Placement(pool=pool, nodes=held)
    return None
