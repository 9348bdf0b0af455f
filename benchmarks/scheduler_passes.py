"""The scale benchmark's machinery: the cluster between passes, and timed passes.

``Cluster`` keeps running and pending jobs as the controller would between passes and
plays a round of completions; ``timed_plan`` times one pass and then its explanations, with
a deadline (SIGALRM) so that a runaway pass is reported instead of waited for.
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

from aidc.core.policy import Policy
from aidc.scheduler import PendingJob, Plan, Planner, RunningJob, Snapshot
from scheduler_scenario import NOW, Scenario


class Cluster:
    """Running and pending jobs as the controller would keep them between passes."""

    def __init__(self, sc: Scenario, policy: Policy) -> None:
        self.sc = sc
        self.policy = policy
        self.now = NOW
        self.pending: dict[str, PendingJob] = {j.job_id: j for j in sc.queue}
        self.running: dict[str, RunningJob] = {}
        self.total_devices = sum(n.accelerator_count for n in sc.nodes)

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.sc.nodes,
            tuple(self.running.values()),
            tuple(self.pending.values()),
            self.sc.pool_engines,
            self.sc.quotas,
            self.sc.usage,
            self.policy,
            self.now,
        )

    def apply(self, p: Plan) -> None:
        for d in p.admit:
            job = self.pending.pop(d.job_id)
            limit = d.time_limit_s if d.time_limit_s is not None else math.inf
            self.running[d.job_id] = RunningJob(
                d.job_id, d.placement, job.project, job.priority_class, self.now, limit
            )
        for v in p.preempt:
            r = self.running.get(v.job_id)
            if r is not None and not r.stopping:
                self.running[v.job_id] = replace(r, stopping=True)

    def advance(self, rng: random.Random, step_s: float, frac: float) -> dict[str, int]:
        """``step_s`` later: stopping jobs have exited, jobs past their limit ended, and a
        random ``frac`` of the others completed."""
        self.now += step_s
        gone = {"exited_after_preemption": 0, "reached_time_limit": 0, "completed": 0}
        for job_id, r in list(self.running.items()):
            if r.stopping:
                del self.running[job_id]
                gone["exited_after_preemption"] += 1
            elif r.ends_by <= self.now:
                del self.running[job_id]
                gone["reached_time_limit"] += 1
        ids = list(self.running)
        for job_id in rng.sample(ids, round(frac * len(ids))):
            del self.running[job_id]
            gone["completed"] += 1
        return gone

    def busy_devices(self) -> int:
        return sum(len(n.devices) for r in self.running.values() for n in r.placement.nodes)


# -- timing -------------------------------------------------------------------------------


class PassTimeout(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Stop the block with PassTimeout after ``seconds`` (SIGALRM; the main thread only)."""

    def fire(_sig: int, _frame: object) -> None:
        raise PassTimeout

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Timed(NamedTuple):
    plan: Plan | None  # None: stopped at the deadline
    plan_s: float  # deciding: plan() returns
    explain_s: float  # then reading every waiting job's explanation (Plan.waiting)


def timed_plan(planner: Planner, s: Snapshot, limit_s: float) -> Timed:
    """One pass and its wall time, then the explanations of the waiting jobs (built on
    first read) and theirs; None if they ran past ``limit_s``. Garbage from earlier passes
    is collected first so that it is not charged to this one; the collector stays on during
    the pass, as it is in the controller."""
    gc.collect()
    t0 = time.perf_counter()
    try:
        with deadline(limit_s):
            p = planner.plan(s)
            t1 = time.perf_counter()
            p.waiting  # noqa: B018 (built on first read: that is what is timed)
    except PassTimeout:
        return Timed(None, time.perf_counter() - t0, 0.0)
    return Timed(p, t1 - t0, time.perf_counter() - t1)
