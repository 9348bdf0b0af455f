"""Use cases of the controller: snapshot, admit, and recording what engines report.

Each function is one short transaction; engine calls happen between them, never inside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.usage_math import placement_rate
from aidc.engines.base import EngineStatus, Handle, LaunchRequest, Outcome
from aidc.scheduler import Decision, Explanation, Snapshot
from aidc.services import audit, credits, environments, metering, pass_input, usage
from aidc.services.center import Center
from aidc.services.nodes import pool_engines
from aidc.services.policy import current as current_policy
from aidc.store import jobs as job_store
from aidc.store.models import JobRow, JobWait, Organisation, Project

CONTROLLER = "controller"


@dataclass(frozen=True)
class ActiveJob:
    """A job an engine runs (or was about to run) as the store knows it."""

    job_id: str
    state: JobState
    engine: str | None
    handle: Handle | None
    cancel_requested: bool
    attempt: int = 0
    preempt_requested: bool = False


@dataclass(frozen=True)
class StopOrder:
    """What the controller passes to ``engine.preempt`` once the request is recorded."""

    job_id: str
    engine: str
    handle: Handle
    grace_s: float
    reason: str


def snapshot(center: Center, known: Snapshot | None = None) -> Snapshot:
    """What the scheduler plans over now (``pass_input.prepare``, which the controller
    uses, says which queued jobs credits hold back).
    Queued jobs of ``known`` (the previous snapshot) are passed on as the same objects, so
    a ``Planner`` regroups only what changed."""
    return pass_input.prepare(center, known.queue if known is not None else None).snapshot


def admit(center: Center, d: Decision) -> tuple[str, LaunchRequest] | None:
    """QUEUED -> ADMITTED -> STARTING on ``d.placement``; None if the job moved meanwhile
    (say, it was cancelled after the snapshot). Returns the engine name and what to launch."""
    return admit_many(center, [d])[0]


def admit_many(
    center: Center, decisions: Sequence[Decision], demoted: Mapping[str, str] | None = None
) -> list[tuple[str, LaunchRequest] | None]:
    """``admit`` for each decision, all in one transaction (one commit for a whole pass).
    ``demoted`` (job id -> class): jobs offered in another class because their project's
    credits are used up (``PassInput.demoted``) run in that class."""
    now = center.clock()
    with center.db.transaction() as s:
        engines = pool_engines(s)
        rows = job_store.get_many(s, [d.job_id for d in decisions], lock=True)
        return [_admit(s, rows.get(d.job_id), d, engines, now, demoted) for d in decisions]


def _admit(
    s: Session,
    row: JobRow | None,
    d: Decision,
    engines: dict[str, str],
    now: float,
    demoted: Mapping[str, str] | None = None,
) -> tuple[str, LaunchRequest] | None:
    if row is None or row.state != JobState.QUEUED:
        return None
    as_class = (demoted or {}).get(row.id)
    if as_class is not None and as_class != row.priority_class:
        why = f"the project's credits are used up: runs as {as_class} (preemptible)"
        job_store.add_note(s, row, at=now, reason=why, actor=CONTROLLER)
        row.priority_class = as_class
    engine = engines[d.placement.pool]
    where = ", ".join(
        f"{n.node}[{','.join(map(str, n.devices))}]" if n.devices else n.node
        for n in d.placement.nodes
    )
    job_store.apply_transition(
        s, row, JobState.ADMITTED, at=now, reason=f"placed on {where}", actor=CONTROLLER
    )
    row.placement = d.placement.to_dict()
    row.engine = engine
    row.borrowing = d.borrowing
    s.execute(delete(JobWait).where(JobWait.job_seq == row.seq))
    job_store.apply_transition(
        s, row, JobState.STARTING, at=now, reason=f"launching on engine {engine}", actor=CONTROLLER
    )
    project = s.get(Project, row.project_id)
    assert project is not None
    org = s.get(Organisation, project.org_id)
    row.attempt += 1
    return engine, LaunchRequest(
        d.job_id,
        project.name,
        JobSpec.model_validate(row.spec),
        d.placement,
        time_limit_s=row.time_limit_s,
        attempt=row.attempt,
        organisation=org.name if org is not None else "",
        environment=environments.for_launch(s, row.spec.get("environment"), project.org_id),
    )


def record_launched(center: Center, job_id: str, handle: Handle, *, reason: str) -> None:
    record_launched_many(center, [(job_id, handle)], reason=reason)


def record_launched_many(
    center: Center, launched: Sequence[tuple[str, Handle]], *, reason: str
) -> None:
    """STARTING -> RUNNING with the engine's handle, for every ``(job_id, handle)``."""
    if not launched:
        return
    now = center.clock()
    with center.db.transaction() as s:
        rows = job_store.get_many(s, [job_id for job_id, _ in launched], lock=True)
        for job_id, handle in launched:
            row = rows[job_id]
            row.handle = handle
            job_store.apply_transition(
                s, row, JobState.RUNNING, at=now, reason=reason, actor=CONTROLLER
            )


def request_preemption(
    center: Center, job_id: str, *, for_job: str, reason: str, grace_s: float
) -> StopOrder | None:
    """Record that ``job_id`` is to stop so that ``for_job`` can run; the caller then passes
    the returned order to the engine, outside this transaction. None: nothing for the
    engine to do, because the job is not running, already stopping (preempted or cancelled)
    or ADMITTED without a process yet, in which case its placement is withdrawn and it goes
    back to the queue at once. A STARTING job is left alone: its launch is in flight, and
    the scheduler asks again once it runs."""
    now = center.clock()
    why = f"preempted to make room for job {for_job}: {reason}"
    with center.db.transaction() as s:
        row = job_store.get(s, job_id, lock=True)
        if row is None:
            return None
        state = JobState(row.state)
        if state is JobState.ADMITTED:
            # No work is lost, so this is no preemption: it simply waits again.
            job_store.apply_transition(
                s,
                row,
                JobState.QUEUED,
                at=now,
                reason=f"placement withdrawn: {why}",
                actor=CONTROLLER,
            )
            return None
        stopping = row.preempt_requested_at is not None or row.cancel_requested_at is not None
        if state is not JobState.RUNNING or stopping or row.engine is None or not row.handle:
            return None
        row.preempt_requested_at = now
        audit.record(
            s,
            at=now,
            actor=CONTROLLER,
            action="job.preempted",
            target_kind="job",
            target=job_id,
            for_job=for_job,
            reason=reason,
        )
        job_store.add_note(s, row, at=now, reason=f"{why}; grace {grace_s:g}s", actor=CONTROLLER)
        return StopOrder(job_id, row.engine, dict(row.handle), grace_s, why)


def pending_stop(center: Center, job_id: str) -> StopOrder | None:
    """The order for a job whose preemption is recorded but may never have reached the
    engine (the server stopped in between, or the engine call failed): what is left of
    its class's grace, counted from the request."""
    now = center.clock()
    with center.db.read() as s:
        row = job_store.get(s, job_id)
        if (
            row is None
            or row.state != JobState.RUNNING
            or row.preempt_requested_at is None
            or row.engine is None
            or not row.handle
        ):
            return None
        _, policy = current_policy(s)
        grace = policy.of_class(row.priority_class).grace_s - (now - row.preempt_requested_at)
        reason = "preempted to make room for another job (request repeated)"
        return StopOrder(job_id, row.engine, dict(row.handle), max(0.0, grace), reason)


def record_status(center: Center, job_id: str, status: EngineStatus) -> bool:
    """Record how a run ended; returns True if the job changed state.

    A preempted run goes back to the queue (RUNNING -> PREEMPTED -> QUEUED) keeping its
    ``seq`` and ``submitted_at``, so it keeps its place; all its accelerator time since it
    started counts as lost. If a cancel was requested too, it ends CANCELLED instead."""
    return record_statuses(center, [(job_id, status)])[0]


def record_statuses(center: Center, statuses: Sequence[tuple[str, EngineStatus]]) -> list[bool]:
    """``record_status`` for each ``(job_id, status)``, in one transaction."""
    if not statuses:
        return []
    now = center.clock()
    with center.db.transaction() as s:
        rows = job_store.get_many(s, [job_id for job_id, _ in statuses], lock=True)
        done = [_record_status(s, rows[job_id], status, now) for job_id, status in statuses]
        warnings = credits.take_warnings(s)
    for w in warnings:
        center.bus.publish("credits.warning", w)
    for (job_id, _), (target, lost) in zip(statuses, done, strict=True):
        if target is JobState.PREEMPTED:
            center.bus.publish(
                "job.preempted", {"job_id": job_id, "lost_accelerator_seconds": lost}
            )
        elif target is not None:
            center.bus.publish("job.finished", {"job_id": job_id, "state": str(target)})
    return [target is not None for target, _ in done]


def _record_status(
    s: Session, row: JobRow, status: EngineStatus, now: float
) -> tuple[JobState | None, float]:
    """The state the job moved to (None: it did not move) and the accelerator-seconds a
    preemption lost."""
    target = {
        Outcome.SUCCEEDED: JobState.SUCCEEDED,
        Outcome.FAILED: JobState.FAILED,
        Outcome.TIMEOUT: JobState.FAILED,
        Outcome.CANCELLED: JobState.CANCELLED,
        Outcome.LOST: JobState.LOST,
        Outcome.PREEMPTED: JobState.PREEMPTED,
    }.get(status.outcome)
    if target is None:
        return None, 0.0
    lost = 0.0
    state = JobState(row.state)
    if state.is_terminal:
        return None, 0.0
    if state is JobState.RUNNING and row.preempt_requested_at is not None:
        if row.cancel_requested_at is not None and target is JobState.PREEMPTED:
            target = JobState.CANCELLED
        elif row.cancel_requested_at is None and target is JobState.CANCELLED:
            # An engine (or a supervisor started by an older aidc) that cannot tell a
            # preemption from a cancel: nobody cancelled it, so it was preempted.
            target = JobState.PREEMPTED
    if state is JobState.RUNNING:
        on_run_ended(s, row, now, target is JobState.PREEMPTED)
    row.preempt_requested_at = None
    if target is JobState.PREEMPTED:
        lost = _requeue(s, row, now, status.reason if status.outcome is Outcome.PREEMPTED else "")
    else:
        reason = status.reason
        if target is JobState.CANCELLED and status.outcome is Outcome.PREEMPTED:
            reason = f"cancelled (requested while it was being preempted); {reason}"
        row.exit_code = status.exit_code
        job_store.apply_transition(s, row, target, at=now, reason=reason, actor=CONTROLLER)
    return target, lost


def requeue_unlaunched(center: Center, job_id: str, reason: str) -> bool:
    """STARTING -> QUEUED: the engine could not be reached to launch the job, so nothing
    ran; it waits again in its place (seq and submit time kept). False if it moved."""
    with center.db.transaction() as s:
        row = job_store.get(s, job_id, lock=True)
        if row is None or row.state != JobState.STARTING:
            return False
        job_store.apply_transition(
            s, row, JobState.QUEUED, at=center.clock(), reason=reason, actor=CONTROLLER
        )
        return True


def record_waits(center: Center, waits: list[Explanation], seqs: dict[str, int]) -> None:
    """Store the scheduler's explanations (``seqs``: job id -> seq)."""
    now = center.clock()
    with center.db.transaction() as s:
        if waits:
            s.execute(delete(JobWait).where(JobWait.job_seq.in_([seqs[w.job_id] for w in waits])))
            s.execute(
                insert(JobWait),
                [
                    {
                        "job_seq": seqs[w.job_id],
                        "reason": str(w.reason),
                        "message": w.message,
                        "position": w.position,
                        "project_position": w.project_position,
                        "priority": w.priority,
                        "estimated_start": w.estimated_start,
                        "updated_at": now,
                    }
                    for w in waits
                ],
            )


def on_run_ended(s: Session, row: JobRow, ended_at: float, preempted: bool) -> None:
    """Accounting hook: called in the recording transaction for every run that ends
    (finished or preempted), while ``row`` still holds the run's placement and start.
    The ledger's final entries (which debit credits and feed fair share) are written here,
    and what only the end tells (a preemption's lost time) goes to the project's usage."""
    if row.placement is None or row.started_at is None:
        return
    _, policy = current_policy(s)
    metering.meter_run(s, row, ended_at, half_life_s=policy.half_life_s, final=True)
    usage.record_run_end(
        s,
        row.project_id,
        rate=placement_rate(row.placement),
        started_at=row.started_at,
        ended_at=ended_at,
        preempted=preempted,
    )


def _requeue(s: Session, row: JobRow, now: float, reason: str) -> float:
    """RUNNING -> PREEMPTED -> QUEUED; returns the accelerator-seconds the run lost."""
    started = row.started_at if row.started_at is not None else now
    lost = max(0.0, now - started) * row.nodes * row.accelerators
    row.preemptions += 1
    row.lost_accelerator_seconds += lost
    row.borrowing = False
    # The next run (attempt + 1) is metered from its own start.
    row.metered_until = None
    row.exit_code = None
    job_store.apply_transition(
        s,
        row,
        JobState.PREEMPTED,
        at=now,
        reason=reason or "preempted to make room for another job",
        actor=CONTROLLER,
    )
    # apply_transition drops placement, handle and engine; seq and submitted_at stay.
    job_store.apply_transition(
        s,
        row,
        JobState.QUEUED,
        at=now,
        reason=f"requeued after preemption {row.preemptions}; keeps its place in the queue",
        actor=CONTROLLER,
    )
    return lost


def note(center: Center, job_id: str, reason: str) -> None:
    with center.db.transaction() as s:
        job_store.add_note(
            s, _locked(s, job_id), at=center.clock(), reason=reason, actor=CONTROLLER
        )


def active_jobs(center: Center) -> list[ActiveJob]:
    with center.db.read() as s:
        return [
            ActiveJob(
                r.id,
                JobState(r.state),
                r.engine,
                r.handle,
                r.cancel_requested_at is not None,
                r.attempt,
                r.preempt_requested_at is not None,
            )
            for r in job_store.in_states(s, [JobState.STARTING, JobState.RUNNING])
        ]


def _locked(s: Session, job_id: str) -> JobRow:
    row = job_store.get(s, job_id, lock=True)
    if row is None:
        raise LookupError(job_id)
    return row
