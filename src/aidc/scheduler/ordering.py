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

from collections.abc import Iterable, Mapping

from aidc.core.policy import Ordering, Policy
from aidc.scheduler.snapshot import PendingJob

SortKey = tuple[float | str, ...]


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


class Ranker:
    """What ranking every group needs from the policy in one pass."""

    __slots__ = ("accelerators", "age_weight", "max_age_s", "now", "ordering", "policy", "total")

    def __init__(self, policy: Policy, now: float, all_accelerators: int) -> None:
        w = policy.weights
        self.policy = policy
        self.now = now
        self.ordering = policy.ordering
        self.age_weight = w.age
        self.max_age_s = w.max_age_s
        self.total = w.fairshare + w.age + w.size + w.priority_class or 1.0
        self.accelerators = all_accelerators or 1

    def standing(self, job: PendingJob) -> tuple[float, float]:
        """What the ranking of ``job``'s group (jobs alike: same project, class, request,
        nice) takes from the policy and the cluster alone: (size, class and nice part of the
        priority, time limit). The same until the policy or the nodes change."""
        w = self.policy.weights
        req = job.request
        cls = self.policy.of_class(job.priority_class)
        size = min(1.0, req.nodes * req.accelerators / self.accelerators)
        return (
            w.size * size + w.priority_class * cls.factor - job.nice,
            float(job.time_limit_s or cls.default_time_limit_s),
        )

    def ranking(self, standing: tuple[float, float], fair_share: float, tier: int) -> Ranking:
        """The ranking of a group in this pass, from its ``standing``."""
        base = self.policy.weights.fairshare * fair_share + standing[0]
        return Ranking(self, base, tier, standing[1])


class Ranking:
    """Sort keys and priorities of one group's jobs in one pass (``queue_index.Group``).

    ``key(job)`` orders jobs across groups; within a group it agrees with submission order,
    since jobs alike differ in priority only by age. ``priority(job)`` is the normalised
    multifactor priority in [0, 1].
    """

    __slots__ = ("_base", "_limit", "_r", "_tier")

    def __init__(self, ranker: Ranker, base: float, tier: int, limit: float) -> None:
        self._r = ranker
        self._base = base
        self._tier = tier
        self._limit = limit

    def key(self, job: PendingJob) -> SortKey:
        ordering = self._r.ordering
        if ordering is Ordering.PRIORITY:
            return (self._tier, -self.priority(job), job.submitted_at, job.seq, job.job_id)
        if ordering is Ordering.SJF:
            return (self._tier, self._limit, job.submitted_at, job.seq, job.job_id)
        return (job.submitted_at, job.seq, job.job_id)

    def priority(self, job: PendingJob) -> float:
        r = self._r
        waited = r.now - job.submitted_at
        age = waited / r.max_age_s if waited > 0 else 0.0
        raw = (self._base + r.age_weight * (age if age < 1.0 else 1.0)) / r.total
        return raw if raw > 0 else 0.0

    def ranked(
        self, jobs: Iterable[PendingJob], keys: list[SortKey], priorities: list[float]
    ) -> None:
        """Append ``key(job)`` and ``priority(job)`` of each job: the same arithmetic,
        inlined, since it runs once for every waiting job when a plan is explained."""
        r = self._r
        now, max_age, weight, total, base = r.now, r.max_age_s, r.age_weight, r.total, self._base
        by_priority = r.ordering is Ordering.PRIORITY
        tier, key, add_key, add_priority = self._tier, self.key, keys.append, priorities.append
        for job in jobs:
            submitted = job.submitted_at
            waited = now - submitted
            age = waited / max_age if waited > 0 else 0.0
            raw = (base + weight * (age if age < 1.0 else 1.0)) / total
            priority = raw if raw > 0 else 0.0
            add_priority(priority)
            if by_priority:
                add_key((tier, -priority, submitted, job.seq, job.job_id))
            else:
                add_key(key(job))
