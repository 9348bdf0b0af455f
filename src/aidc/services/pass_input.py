"""What one scheduling pass plans over: the snapshot, with the queue gated by credits.

Held jobs (``services.credit_holds``) are not offered to the scheduler; their explanations
come with the snapshot for the controller to store with the scheduler's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aidc.scheduler import Explanation, Snapshot
from aidc.scheduler.snapshot import PendingJob
from aidc.services import credit_holds
from aidc.services.center import Center
from aidc.services.nodes import inventory_nodes, placed_jobs, pool_engines
from aidc.services.policy import current as current_policy
from aidc.services.quotas import quota_tree
from aidc.store import jobs as job_store


@dataclass(frozen=True)
class PassInput:
    """A pass's snapshot and what credits did to the queue: jobs held back (with their
    explanations; ``seqs`` has every queued job's seq), jobs offered in another class
    (``demoted``: job id -> class; their copies in ``copies``), and every queued job as
    read (``queued``), to hand on to the next pass."""

    snapshot: Snapshot
    held: tuple[Explanation, ...] = ()
    seqs: Mapping[str, int] = field(default_factory=dict)
    demoted: Mapping[str, str] = field(default_factory=dict)
    queued: tuple[PendingJob, ...] = ()
    copies: Mapping[str, PendingJob] = field(default_factory=dict)


def prepare(center: Center, known: PassInput | tuple[PendingJob, ...] | None = None) -> PassInput:
    """The snapshot with the queue gated by credits (``services.credit_holds``): held jobs
    are not offered to the scheduler. Queued jobs of ``known`` (the last pass's input, or
    the jobs a bare snapshot offered) are handed on as the same objects."""
    now = center.clock()
    with center.db.read() as s:
        _, policy = current_policy(s)
        accounts = credit_holds.read_credits(s)
        if isinstance(known, PassInput):
            previous = {j.job_id: j for j in known.queued}
        elif known is not None:
            # Offered jobs of a bare snapshot: those of metered projects may be changed
            # copies, so they are read afresh.
            previous = {j.job_id: j for j in known if j.project not in accounts}
        else:
            previous = None
        queue = tuple(job_store.queued_jobs(s, previous))
        gated = credit_holds.gate(
            queue, accounts, policy, now, known.copies if isinstance(known, PassInput) else None
        )
        snap = Snapshot(
            nodes=inventory_nodes(s),
            running=placed_jobs(s, now),
            queue=gated.offered,
            pool_engines=pool_engines(s),
            quotas=quota_tree(s),
            usage=center.usage.decayed(s, now, policy.half_life_s),
            policy=policy,
            now=now,
        )
    seqs = {j.job_id: j.seq for j in queue}
    return PassInput(snap, gated.held, seqs, gated.demoted, queue, gated.copies)
