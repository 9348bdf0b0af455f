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


def candidates(
    job: PendingJob,
    cls: ClassPolicy,
    in_nominal: bool,
    running: list[RunningJob],
    quota: QuotaState,
    policy: Policy,
    types: tuple[str, ...],
) -> list[RunningJob]:
    """Running jobs that may give way to ``job``, in the order they should."""
    out: list[tuple[tuple[object, ...], RunningJob]] = []
    for v in running:
        if job.request.accelerators and not any(
            n.accelerator_type in types for n in v.placement.nodes
        ):
            continue
        vcls = policy.of_class(v.priority_class)
        if v.stopping:
            out.append(((0,), v))
            continue
        if not vcls.preemptible:
            continue
        borrowing = quota.borrowing(v.project)
        if vcls.beyond_quota and not cls.beyond_quota:
            tier = 1
        elif v.project == job.project:
            if not (policy.preemption.within_project and vcls.factor < cls.factor):
                continue
            tier = 3
        elif policy.preemption.reclaim and in_nominal and borrowing:
            tier = 2
        else:
            continue
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
) -> Victims | None:
    """The smallest set of ``pool`` (in its order) whose removal lets ``job`` run on
    ``accelerator_type``; None if even all of them would not do."""
    req: Request = job.request
    removed: list[RunningJob] = []

    def fits() -> bool:
        if not cls.beyond_quota and quota.check(job.project, charges, may_borrow=cls.may_borrow):
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
            if v.stopping:
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
        stop=tuple(v for v in reversed(removed) if not v.stopping),
        wait=tuple(v for v in reversed(removed) if v.stopping),
    )
