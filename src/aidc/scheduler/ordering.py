"""Ordering: which pending job the scheduler considers first.

``priority`` is Slurm's multifactor priority with the policy's weights, each factor in [0, 1]:

- fair share: 2^(-(usage share) / (allocation share)) over decayed usage (Slurm's classic
  formula): 1 for a project that used nothing, 0.5 for one that used exactly its share;
- age: time waiting over ``max_age_s``, capped at 1;
- size: the job's accelerators as a fraction of the cluster's (large jobs would otherwise
  starve behind small ones);
- priority class: the class's factor;
minus the job's nice, then normalised by the sum of the weights.

Jobs are considered in tiers (Kueue's order): work that fits in its project's nominal quota
first, then work that would borrow, then opportunistic work; within a tier by priority
(``priority``), shortest time limit (``sjf``), or submission (``fifo``, which has no tiers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aidc.core.policy import Ordering, Policy
from aidc.scheduler.snapshot import PendingJob

SortKey = tuple[float, ...]


def fair_share_factors(
    usage: Mapping[str, float], shares: Mapping[str, float], projects: set[str]
) -> dict[str, float]:
    """2^(-U/S) per project, with U and S normalised over ``projects``."""
    total_usage = sum(max(0.0, usage.get(p, 0.0)) for p in projects)
    total_shares = sum(max(0.0, shares.get(p, 1.0)) for p in projects)
    out: dict[str, float] = {}
    for p in projects:
        if total_usage <= 0:
            out[p] = 1.0
            continue
        s = max(0.0, shares.get(p, 1.0)) / total_shares if total_shares else 0.0
        u = max(0.0, usage.get(p, 0.0)) / total_usage
        out[p] = 0.0 if s == 0 else 2.0 ** (-u / s)
    return out


def priorities(
    queue: tuple[PendingJob, ...],
    policy: Policy,
    now: float,
    fair_share: Mapping[str, float],
    cluster_size: Mapping[str, int],
) -> dict[str, float]:
    """Normalised multifactor priority in [0, 1] of every pending job."""
    w = policy.weights
    total = w.fairshare + w.age + w.size + w.priority_class or 1.0
    all_accelerators = sum(v for k, v in cluster_size.items() if k != "cpu") or 1
    out: dict[str, float] = {}
    for job in queue:
        req = job.request
        age = min(1.0, max(0.0, now - job.submitted_at) / w.max_age_s)
        size = min(1.0, req.nodes * req.accelerators / all_accelerators)
        raw = (
            w.fairshare * fair_share.get(job.project, 1.0)
            + w.age * age
            + w.size * size
            + w.priority_class * policy.of_class(job.priority_class).factor
            - job.nice
        )
        out[job.job_id] = max(0.0, raw / total)
    return out


def sort_key(
    policy: Policy, priority: Mapping[str, float], tier: Callable[[PendingJob], int]
) -> Callable[[PendingJob], SortKey]:
    if policy.ordering is Ordering.FIFO:
        return lambda j: (j.submitted_at, j.seq)
    if policy.ordering is Ordering.SJF:
        return lambda j: (
            tier(j),
            j.time_limit_s or policy.of_class(j.priority_class).default_time_limit_s,
            j.submitted_at,
            j.seq,
        )
    return lambda j: (tier(j), -priority[j.job_id], j.submitted_at, j.seq)
