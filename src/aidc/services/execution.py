"""Use cases of the controller: snapshot, admit, and recording what engines report.

Each function is one short transaction; engine calls happen between them, never inside.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.engines.base import EngineStatus, Handle, LaunchRequest, Outcome
from aidc.scheduler import Decision, Explanation, Snapshot
from aidc.services.center import Center
from aidc.services.nodes import inventory_nodes, placed_jobs, pool_engines
from aidc.services.policy import current as current_policy
from aidc.services.quotas import quota_tree
from aidc.store import jobs as job_store
from aidc.store.models import JobRow, JobWait, Project

CONTROLLER = "controller"


@dataclass(frozen=True)
class ActiveJob:
    """A job an engine runs (or was about to run) as the store knows it."""

    job_id: str
    state: JobState
    engine: str | None
    handle: Handle | None
    cancel_requested: bool


def snapshot(center: Center) -> Snapshot:
    now = center.clock()
    with center.db.read() as s:
        _, policy = current_policy(s)
        return Snapshot(
            nodes=inventory_nodes(s),
            running=placed_jobs(s, now),
            queue=tuple(job_store.queued_jobs(s)),
            pool_engines=pool_engines(s),
            quotas=quota_tree(s),
            usage=center.usage.decayed(s, now, policy.half_life_s),
            policy=policy,
            now=now,
        )


def admit(center: Center, d: Decision) -> tuple[str, LaunchRequest] | None:
    """QUEUED -> ADMITTED -> STARTING on ``d.placement``; None if the job moved meanwhile
    (say, it was cancelled after the snapshot). Returns the engine name and what to launch."""
    now = center.clock()
    with center.db.transaction() as s:
        row = job_store.get(s, d.job_id, lock=True)
        if row is None or row.state != JobState.QUEUED:
            return None
        engine = pool_engines(s)[d.placement.pool]
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
            s,
            row,
            JobState.STARTING,
            at=now,
            reason=f"launching on engine {engine}",
            actor=CONTROLLER,
        )
        project = s.get(Project, row.project_id)
        assert project is not None
        row.attempt += 1
        return engine, LaunchRequest(
            d.job_id,
            project.name,
            JobSpec.model_validate(row.spec),
            d.placement,
            time_limit_s=row.time_limit_s,
            attempt=row.attempt,
        )


def record_launched(center: Center, job_id: str, handle: Handle, *, reason: str) -> None:
    with center.db.transaction() as s:
        row = _locked(s, job_id)
        row.handle = handle
        job_store.apply_transition(
            s, row, JobState.RUNNING, at=center.clock(), reason=reason, actor=CONTROLLER
        )


def record_status(center: Center, job_id: str, status: EngineStatus) -> bool:
    """Record a finished job's outcome; returns True if the job changed state."""
    target = {
        Outcome.SUCCEEDED: JobState.SUCCEEDED,
        Outcome.FAILED: JobState.FAILED,
        Outcome.TIMEOUT: JobState.FAILED,
        Outcome.CANCELLED: JobState.CANCELLED,
        Outcome.LOST: JobState.LOST,
    }.get(status.outcome)
    if target is None:
        return False
    with center.db.transaction() as s:
        row = _locked(s, job_id)
        if JobState(row.state).is_terminal:
            return False
        row.exit_code = status.exit_code
        job_store.apply_transition(
            s, row, target, at=center.clock(), reason=status.reason, actor=CONTROLLER
        )
    center.bus.publish("job.finished", {"job_id": job_id, "state": str(target)})
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


def note(center: Center, job_id: str, reason: str) -> None:
    with center.db.transaction() as s:
        job_store.add_note(
            s, _locked(s, job_id), at=center.clock(), reason=reason, actor=CONTROLLER
        )


def active_jobs(center: Center) -> list[ActiveJob]:
    with center.db.read() as s:
        return [
            ActiveJob(
                r.id, JobState(r.state), r.engine, r.handle, r.cancel_requested_at is not None
            )
            for r in job_store.in_states(s, [JobState.STARTING, JobState.RUNNING])
        ]


def _locked(s: Session, job_id: str) -> JobRow:
    row = job_store.get(s, job_id, lock=True)
    if row is None:
        raise LookupError(job_id)
    return row
