"""Preemption: which running jobs to stop so that a waiting job can run.

Candidates, cheapest lost work first: jobs already stopping (free), then opportunistic jobs,
then jobs of projects that borrow beyond their nominal quota (reclaim, only for a job that
itself stays within its nominal), then lower classes of the same project; within each, the
lowest class and the shortest run so far first. Victims are added until the job fits
(quota and placement), then any victim the job can do without is dropped again, so the set
is minimal. Everything is a what-if on the pass's state and is undone before returning.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from aidc.core.policy import ClassPolicy, Policy
from aidc.core.resources import Request
from aidc.scheduler.placement import Capacity
from aidc.scheduler.quota import Charges, QuotaState, add_placement_charges, placement_charges
from aidc.scheduler.snapshot import PendingJob, RunningJob

MAX_VICTIMS = 256


@dataclass(frozen=True, slots=True)
class Victims:
    """Jobs to stop (``stop``) and jobs already stopping that the job waits for (``wait``)."""

    accelerator_type: str
    stop: tuple[RunningJob, ...]
    wait: tuple[RunningJob, ...]


VictimKey = tuple[float, float, str]


class VictimIndex:
    """Running jobs by accelerator type, kept in the order they should give way, built once
    per pass: finding candidates reads the heads of a few sorted lists, not every running
    job."""

    def __init__(self, running: list[RunningJob], policy: Policy) -> None:
        self.policy = policy
        self.stopping: set[str] = {r.job_id for r in running if r.stopping}
        self.types: dict[str, tuple[str, ...]] = {}
        self.jobs: dict[str, RunningJob] = {}
        # type -> opportunistic (beyond quota) jobs; type -> project -> the other jobs.
        self.beyond: dict[str, list[tuple[VictimKey, RunningJob]]] = {}
        self.charged: dict[str, dict[str, list[tuple[VictimKey, RunningJob]]]] = {}
        for r in running:
            # A placement is on one accelerator type (a gang too), or on none.
            types = _types(r)
            self.types[r.job_id] = types
            self.jobs[r.job_id] = r
            vcls = policy.of_class(r.priority_class)
            if not vcls.preemptible:
                continue
            entry = ((vcls.factor, -r.started_at, r.job_id), r)
            for t in types:
                if vcls.beyond_quota:
                    self.beyond.setdefault(t, []).append(entry)
                else:
                    self.charged.setdefault(t, {}).setdefault(r.project, []).append(entry)
        for entries in self.beyond.values():
            entries.sort(key=_first)
        for by_project in self.charged.values():
            for entries in by_project.values():
                entries.sort(key=_first)

    def candidates(
        self,
        job: PendingJob,
        cls: ClassPolicy,
        in_nominal: bool,
        quota: QuotaState,
        accelerator_type: str,
    ) -> list[RunningJob]:
        """Running jobs that may give way to ``job``, in the order they should: jobs already
        stopping (by id), opportunistic jobs, borrowers of other projects (reclaim, for a
        job within its nominal quota), lower classes of its own project; within each, the
        lowest class and the shortest run first."""
        policy = self.policy
        t = accelerator_type if job.request.accelerators else "cpu"
        out = [self.jobs[j] for j in sorted(self.stopping) if j in self.jobs and t in self.types[j]]
        # Work beyond quota never preempts (plan does not ask for it).
        assert not cls.beyond_quota
        by_project = self.charged.get(t, {})
        tiers: list[Iterable[tuple[VictimKey, RunningJob]]] = [self.beyond.get(t, ())]
        if policy.preemption.reclaim and in_nominal:
            lenders = [
                entries
                for project, entries in sorted(by_project.items())
                if project != job.project and quota.borrowing(project)
            ]
            tiers.append(heapq.merge(*lenders, key=_first))
        own = by_project.get(job.project, ())
        if policy.preemption.within_project:
            tiers.append(e for e in own if e[0][0] < cls.factor)
        for entries in tiers:
            for _, v in entries:
                if len(out) >= MAX_VICTIMS:
                    return out
                if v.job_id not in self.stopping:
                    out.append(v)
        return out[:MAX_VICTIMS]


def _types(r: RunningJob) -> tuple[str, ...]:
    nodes = r.placement.nodes
    if len(nodes) == 1:
        return (nodes[0].accelerator_type,) if nodes[0].devices else ("cpu",)
    return tuple(sorted({n.accelerator_type for n in nodes if n.devices})) or ("cpu",)


def _first(entry: tuple[VictimKey, RunningJob]) -> VictimKey:
    return entry[0]


def _quota_could_allow(
    job: PendingJob,
    cls: ClassPolicy,
    charges: Charges,
    pool: list[RunningJob],
    quota: QuotaState,
    policy: Policy,
) -> bool:
    """Whether the job's quota would let it in with the whole pool gone. Quota only grows as
    victims go, so if not, no victims from the pool will do; this asks once, where finding
    victims would ask for every one of them."""
    if quota.check_now(job.project, charges, may_borrow=cls.may_borrow) is None:
        return True
    freed: dict[str, Charges] = {}
    for v in pool:
        if not policy.of_class(v.priority_class).beyond_quota:
            add_placement_charges(freed.setdefault(v.project, {}), v.placement)
    if not freed:
        return False
    for project, c in freed.items():
        quota.remove(project, c)
    allowed = quota.check_now(job.project, charges, may_borrow=cls.may_borrow) is None
    for project, c in freed.items():
        quota.add(project, c)
    return allowed


def find_victims(
    job: PendingJob,
    cls: ClassPolicy,
    accelerator_type: str,
    charges: Charges,
    pool: list[RunningJob],
    cap: Capacity,
    quota: QuotaState,
    policy: Policy,
    *,
    spread: bool,
    excluded: frozenset[str],
    stopping: set[str],
) -> Victims | None:
    """The smallest set of ``pool`` (in its order) whose removal lets ``job`` run on
    ``accelerator_type``; None if even all of them would not do."""
    req: Request = job.request
    removed: list[RunningJob] = []

    def fits() -> bool:
        if not cls.beyond_quota and quota.check_now(
            job.project, charges, may_borrow=cls.may_borrow
        ):
            return False
        return (
            cap.place(
                req,
                accelerator_type,
                spread=spread,
                same_rack=job.same_rack,
                excluded=excluded,
                commit=False,
            )
            is not None
        )

    def drop(v: RunningJob) -> None:
        cap.release(v.placement)
        if not policy.of_class(v.priority_class).beyond_quota:
            quota.remove(v.project, placement_charges(v.placement))

    def restore(v: RunningJob) -> None:
        cap.take(v.placement)
        if not policy.of_class(v.priority_class).beyond_quota:
            quota.add(v.project, placement_charges(v.placement))

    if not cls.beyond_quota and not _quota_could_allow(job, cls, charges, pool, quota, policy):
        return None
    found = False
    for v in pool:
        drop(v)
        removed.append(v)
        if fits():
            found = True
            break
    if found:
        # Put back, newest pick first, every victim the job does not need after all.
        needed: list[RunningJob] = []
        for v in reversed(removed):
            if v.job_id in stopping:
                needed.append(v)
                continue
            restore(v)
            if fits():
                continue
            drop(v)
            needed.append(v)
        removed = needed
    for v in removed:
        restore(v)
    if not found:
        return None
    return Victims(
        accelerator_type,
        stop=tuple(v for v in reversed(removed) if v.job_id not in stopping),
        wait=tuple(v for v in reversed(removed) if v.job_id in stopping),
    )
