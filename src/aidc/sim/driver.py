"""The simulation driver: the production scheduler, line for line, on a virtual clock.

The clock jumps from event to event: a submission, a job's end (its recorded duration, or
its time limit if that comes first), a preempted job's exit after its class's grace. After
every instant with events, one planning pass decides, with a ``Planner`` kept for the whole
run exactly as the controller keeps one; nothing else changes what a pass would decide
between events. A job no set of the cluster's nodes could ever run is reported in
``skipped`` with the reason, never dropped silently. Admitted jobs start at once (the
engine's launch takes no virtual time); a preempted job goes back to the queue keeping its
submit time and starts over. Fair-share usage is the controller's: billing-weighted
accelerator-seconds of ended runs and of running ones so far, decayed with the policy's
half-life (``services.usage``'s arithmetic).

No policy is copied here: every decision is ``aidc.scheduler``'s.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import NamedTuple

from aidc.core.policy import Policy
from aidc.core.resources import Node, Placement, Request
from aidc.core.usage_math import placement_rate
from aidc.scheduler import PendingJob, Planner, Quotas, RunningJob, Snapshot
from aidc.scheduler.feasibility import why_infeasible
from aidc.sim.usage import VirtualUsage


@dataclass(frozen=True, slots=True)
class SimJob:
    """One job of a trace: when it is submitted, what it asks, how long it really runs."""

    job_id: str
    submitted_at: float
    duration_s: float
    request: Request
    project: str = ""
    priority_class: str = "normal"
    # What the scheduler is told (None: the class default); the true duration stays hidden.
    time_limit_s: float | None = None


@dataclass(frozen=True, slots=True)
class JobOutcome:
    job_id: str
    project: str
    submitted_at: float
    started_at: float  # the start of its last (completed) run
    ended_at: float
    first_started_at: float  # the start of its first run (before any preemption)
    accelerators: int  # nodes x accelerators per node
    preemptions: int = 0
    lost_accelerator_s: float = 0.0  # run time thrown away by preemptions
    timed_out: bool = False  # stopped at its time limit before its duration

    @property
    def completion_s(self) -> float:
        return self.ended_at - self.submitted_at

    @property
    def queued_s(self) -> float:
        """Waiting before its first start."""
        return self.first_started_at - self.submitted_at


class RunRecord(NamedTuple):
    """One run of a job on the cluster: every run, the preempted ones too, so that use over
    time, queue length and each tenant's share can be worked out afterwards."""

    job_id: str
    project: str
    accelerator_type: str
    accelerators: int  # devices held
    started_at: float
    ended_at: float
    completed: bool  # False: preempted, its work lost (or cut)
    # Still running when the run stopped (``until``): recorded up to the stop, not lost.
    cut: bool = False


@dataclass(slots=True)
class SimResult:
    jobs: list[JobOutcome] = field(default_factory=list)
    # Every run in the order they ended.
    runs: list[RunRecord] = field(default_factory=list)
    # Jobs left unfinished when the run stopped (``until``), by id.
    unfinished: list[str] = field(default_factory=list)
    # Jobs no node set of the cluster could ever run: (job id, why), never silently dropped.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    passes: int = 0
    makespan_s: float = 0.0
    # Accelerator-seconds that ran: those of completed runs, and those lost to preemption.
    useful_accelerator_s: float = 0.0
    lost_accelerator_s: float = 0.0


PROGRESS_EVERY = 1000


class _Event(IntEnum):
    # At one instant, ends and exits come before submissions, so a pass sees freed room.
    END = 0
    EXIT = 1
    SUBMIT = 2


@dataclass(slots=True)
class _Run:
    job: SimJob
    pending: PendingJob
    started_at: float
    running: RunningJob
    ends_at: float
    preemptions: int
    lost: float
    rate: float  # billing-weighted devices, for fair-share usage


def simulate(
    nodes: tuple[Node, ...],
    jobs: Iterable[SimJob],
    policy: Policy,
    *,
    quotas: Quotas | None = None,
    until: float = math.inf,
    progress: Callable[[float, int], None] | None = None,
    planner: Planner | None = None,
) -> SimResult:
    """Run ``jobs`` (in any order) on ``nodes`` under ``policy`` until every job has ended,
    or until the clock passes ``until``. ``progress(now, jobs_done)`` is called after every
    ``PROGRESS_EVERY`` passes. ``planner``: the one to keep for the run (a new one by
    default, as the controller keeps one)."""
    quotas = quotas or Quotas()
    planner = planner or Planner()
    events: list[tuple[float, int, int, object]] = []
    result = SimResult()
    checked: dict[Request, tuple[str, str] | None] = {}
    for seq, job in enumerate(jobs):
        if job.request not in checked:
            checked[job.request] = why_infeasible(job.request, nodes)
        infeasible = checked[job.request]
        if infeasible is not None:
            result.skipped.append((job.job_id, f"{infeasible[0]}: {infeasible[1]}"))
            continue
        heapq.heappush(events, (job.submitted_at, _Event.SUBMIT, seq, job))
    pending: dict[str, PendingJob] = {}
    sim_jobs: dict[str, SimJob] = {}
    running: dict[str, _Run] = {}
    # What the scheduler sees running, job id -> the same object from pass to pass.
    seen_running: dict[str, RunningJob] = {}
    # job id -> (preemptions, lost, first start), across runs
    history: dict[str, tuple[int, float, float]] = {}
    usage = VirtualUsage(policy.half_life_s)
    tick = 0  # orders the ends and exits of one instant as they were made
    first_submit: float | None = None
    while events:
        now = events[0][0]
        if now > until:
            break
        while events and events[0][0] == now:
            _, kind, _, payload = heapq.heappop(events)
            if kind is _Event.SUBMIT:
                assert isinstance(payload, SimJob)
                first_submit = now if first_submit is None else first_submit
                sim_jobs[payload.job_id] = payload
                pending[payload.job_id] = PendingJob(
                    payload.job_id,
                    payload.request,
                    payload.submitted_at,
                    payload.project,
                    len(sim_jobs),
                    payload.priority_class,
                    time_limit_s=payload.time_limit_s,
                )
                continue
            assert isinstance(payload, str)
            run = running.get(payload)
            if run is None or (kind is _Event.END and run.ends_at != now):
                continue  # a stale end: the run was preempted meanwhile
            del running[payload], seen_running[payload]
            seconds = now - run.started_at
            devices = _devices(run.running.placement)
            usage.ended(run.job.project, run.rate, run.started_at, now)
            result.runs.append(
                RunRecord(
                    payload,
                    run.job.project,
                    _type(run.running.placement),
                    devices,
                    run.started_at,
                    now,
                    kind is _Event.END,
                )
            )
            if kind is _Event.END:
                result.useful_accelerator_s += devices * seconds
                result.jobs.append(
                    JobOutcome(
                        run.job.job_id,
                        run.job.project,
                        run.job.submitted_at,
                        run.started_at,
                        now,
                        history.get(payload, (0, 0.0, run.started_at))[2],
                        run.job.request.nodes * run.job.request.accelerators,
                        run.preemptions,
                        run.lost,
                        timed_out=seconds < run.job.duration_s,
                    )
                )
            else:
                # Preempted: back to the queue in its place, to start over.
                lost = devices * seconds
                result.lost_accelerator_s += lost
                first = history.get(payload, (0, 0.0, run.started_at))[2]
                history[payload] = (run.preemptions + 1, run.lost + lost, first)
                pending[payload] = run.pending
        if not pending:
            continue
        snapshot = Snapshot(
            nodes,
            tuple(seen_running.values()),
            tuple(pending.values()),
            {},
            quotas,
            usage.read(now),
            policy,
            now,
        )
        plan = planner.plan(snapshot)
        result.passes += 1
        if progress is not None and result.passes % PROGRESS_EVERY == 0:
            progress(now, len(result.jobs))
        for d in plan.admit:
            job = sim_jobs[d.job_id]
            queued = pending.pop(d.job_id)
            limit = d.time_limit_s if d.time_limit_s is not None else math.inf
            ends = now + min(job.duration_s, limit)
            preemptions, lost, _ = history.get(d.job_id, (0, 0.0, now))
            running[d.job_id] = _Run(
                job,
                queued,
                now,
                RunningJob(d.job_id, d.placement, job.project, job.priority_class, now, limit),
                ends,
                preemptions,
                lost,
                placement_rate(d.placement),
            )
            seen_running[d.job_id] = running[d.job_id].running
            usage.started(job.project, running[d.job_id].rate, now)
            tick += 1
            heapq.heappush(events, (ends, _Event.END, tick, d.job_id))
        for p in plan.preempt:
            run = running.get(p.job_id)
            if run is None or run.running.stopping:
                continue
            run.running = seen_running[p.job_id] = replace(run.running, stopping=True)
            run.ends_at = math.inf  # its end never comes: it exits after the grace
            tick += 1
            heapq.heappush(events, (now + p.grace_s, _Event.EXIT, tick, p.job_id))
    if events and math.isfinite(until):
        for job_id, run in running.items():
            result.runs.append(
                RunRecord(
                    job_id,
                    run.job.project,
                    _type(run.running.placement),
                    _devices(run.running.placement),
                    run.started_at,
                    max(until, run.started_at),
                    False,
                    cut=True,
                )
            )
    result.unfinished = sorted([*pending, *running])
    if result.jobs and first_submit is not None:
        result.makespan_s = max(j.ended_at for j in result.jobs) - first_submit
    return result


def _devices(p: Placement) -> int:
    return sum(len(n.devices) for n in p.nodes)


def _type(p: Placement) -> str:
    return p.nodes[0].accelerator_type if p.nodes else "cpu"
