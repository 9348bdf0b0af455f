"""Preemption: which running jobs to stop so that a waiting job can run.

Candidates, cheapest lost work first: jobs already stopping (free), then opportunistic jobs,
then jobs of projects that borrow beyond their nominal quota (reclaim, only for a job that
itself stays within its nominal), then lower classes of the same project; within each, the
lowest class and the shortest run so far first. Victims are added until the job fits
(quota and placement), then any victim the job can do without is dropped again, so the set
is minimal. Everything is a what-if on the pass's state and is undone before returning.
"""

from __future__ import annotations

from dataclasses import dataclass

from aidc.core.policy import ClassPolicy, Policy
from aidc.core.resources import Request
from aidc.scheduler.placement import Capacity
from aidc.scheduler.quota import Charges, QuotaState, placement_charges
from aidc.scheduler.snapshot import PendingJob, RunningJob

MAX_VICTIMS = 256


@dataclass(frozen=True, slots=True)
class Victims:
    """Jobs to stop (``stop``) and jobs already stopping that the job waits for (``wait``)."""

    accelerator_type: str
    stop: tuple[RunningJob, ...]
    wait: tuple[RunningJob, ...]


class VictimIndex:
    """Running jobs by accelerator type and project, built once per pass, so that finding
    candidates looks at the jobs that could give way, not at every running job."""

    def __init__(self, running: list[RunningJob], policy: Policy) -> None:
        self.policy = policy
        self.stopping: set[str] = {r.job_id for r in running if r.stopping}
        self.by_type: dict[str, dict[str, list[RunningJob]]] = {}
        for r in running:
            types = {n.accelerator_type for n in r.placement.nodes if n.devices} or {"cpu"}
            for t in types:
                self.by_type.setdefault(t, {}).setdefault(r.project, []).append(r)

    def candidates(
        self,
        job: PendingJob,
        cls: ClassPolicy,
        in_nominal: bool,
        quota: QuotaState,
        accelerator_type: str,
    ) -> list[RunningJob]:
        """Running jobs that may give way to ``job``, in the order they should."""
        policy = self.policy
        out: list[tuple[tuple[object, ...], RunningJob]] = []
        projects = self.by_type.get(accelerator_type if job.request.accelerators else "cpu", {})
        for project in sorted(projects):
            same = project == job.project
            borrowing: bool | None = None
            for v in projects[project]:
                if v.job_id in self.stopping:
                    out.append(((0, v.job_id), v))
                    continue
                vcls = policy.of_class(v.priority_class)
                if not vcls.preemptible:
                    continue
                if vcls.beyond_quota and not cls.beyond_quota:
                    tier = 1
                elif same:
                    if not (policy.preemption.within_project and vcls.factor < cls.factor):
                        continue
                    tier = 3
                else:
                    if not (policy.preemption.reclaim and in_nominal):
                        continue
                    if borrowing is None:
                        borrowing = quota.borrowing(project)
                    if not borrowing:
                        continue
                    tier = 2
                out.append(((tier, vcls.factor, -v.started_at, v.job_id), v))
        out.sort(key=lambda e: e[0])
        return [v for _, v in out[:MAX_VICTIMS]]


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
