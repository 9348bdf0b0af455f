"""Job rows and their history. ``apply_transition`` is the only writer of ``jobs.state``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState, transition
from aidc.core.resources import Request
from aidc.scheduler.snapshot import PendingJob
from aidc.store.models import JobEvent, JobRow, JobWait, Project


def add_job(
    s: Session,
    *,
    job_id: str,
    project_id: int,
    user_id: int,
    spec: dict[str, Any],
    request: Request,
    time_limit_s: float,
    at: float,
    actor: str,
) -> JobRow:
    row = JobRow(
        id=job_id,
        project_id=project_id,
        user_id=user_id,
        name=spec.get("name"),
        spec=spec,
        nodes=request.nodes,
        cpus=request.cpus,
        memory_mib=request.memory_mib,
        accelerators=request.accelerators,
        accelerator_type=",".join(request.accelerator_types) or None,
        accelerator_memory_gb=request.min_accelerator_memory_gb,
        priority_class=spec.get("priority_class", "normal"),
        nice=spec.get("nice", 0),
        time_limit_s=time_limit_s,
        spread=None if spec.get("placement") is None else spec["placement"] == "spread",
        same_rack=bool(spec.get("same_rack", False)),
        state=JobState.QUEUED,
        state_reason="waiting for resources",
        submitted_at=at,
    )
    s.add(row)
    s.flush()
    s.add(
        JobEvent(
            job_seq=row.seq,
            at=at,
            from_state=None,
            to_state=JobState.QUEUED,
            reason="submitted",
            actor=actor,
        )
    )
    return row


def get(s: Session, job_id: str, *, lock: bool = False) -> JobRow | None:
    q = select(JobRow).where(JobRow.id == job_id)
    if lock:
        q = q.with_for_update()
    return s.scalars(q).one_or_none()


def get_many(s: Session, job_ids: Sequence[str], *, lock: bool = False) -> dict[str, JobRow]:
    """The rows of ``job_ids`` that exist, by id, in one query (a batch's worth)."""
    q = select(JobRow).where(JobRow.id.in_(list(job_ids)))
    if lock:
        q = q.with_for_update()
    return {row.id: row for row in s.scalars(q)}


def apply_transition(
    s: Session, row: JobRow, target: JobState, *, at: float, reason: str, actor: str | None = None
) -> None:
    """Move ``row`` to ``target`` if the state machine allows it, and record why."""
    t = transition(JobState(row.state), target, at=at, reason=reason)
    row.state = t.target
    row.state_reason = reason
    if target is JobState.RUNNING:
        row.started_at = at
    if target.is_terminal:
        row.finished_at = at
    if target is JobState.QUEUED:
        row.placement = None
        row.handle = None
        row.engine = None
    s.add(
        JobEvent(
            job_seq=row.seq,
            at=at,
            from_state=t.source,
            to_state=t.target,
            reason=reason,
            actor=actor,
        )
    )


def add_note(s: Session, row: JobRow, *, at: float, reason: str, actor: str | None = None) -> None:
    """A line in the job's history that does not change its state."""
    s.add(
        JobEvent(
            job_seq=row.seq,
            at=at,
            from_state=row.state,
            to_state=row.state,
            reason=reason,
            actor=actor,
        )
    )


def events(s: Session, row: JobRow) -> Sequence[JobEvent]:
    return s.scalars(
        select(JobEvent).where(JobEvent.job_seq == row.seq).order_by(JobEvent.id)
    ).all()


def queued_jobs(s: Session, known: Mapping[str, PendingJob] | None = None) -> list[PendingJob]:
    """Every queued job in submission order, read as plain columns (no JSON parsing).

    A queued job never changes (a requeued one keeps its fields), so a job in ``known`` (the
    caller's previous answer) is returned as that same object and not read again: the
    scheduler tells by identity what changed between passes.
    """
    if known:
        ids = s.scalars(
            select(JobRow.id).where(JobRow.state == JobState.QUEUED).order_by(JobRow.seq)
        ).all()
        new = [i for i in ids if i not in known]
        read = {j.job_id: j for j in _queued(s, new)} if new else {}
        return [known.get(i) or read[i] for i in ids if i in known or i in read]
    return _queued(s, None)


def _queued(s: Session, ids: list[str] | None) -> list[PendingJob]:
    """Queued jobs (all, or those of ``ids``) in submission order."""
    query = (
        select(
            JobRow.id,
            JobRow.seq,
            JobRow.nodes,
            JobRow.cpus,
            JobRow.memory_mib,
            JobRow.accelerators,
            JobRow.accelerator_type,
            JobRow.accelerator_memory_gb,
            JobRow.submitted_at,
            Project.name,
            JobRow.priority_class,
            JobRow.nice,
            JobRow.time_limit_s,
            JobRow.spread,
            JobRow.same_rack,
        )
        .join(Project, Project.id == JobRow.project_id)
        .where(JobRow.state == JobState.QUEUED)
        .order_by(JobRow.seq)
    )
    rows: list[Any] = []
    if ids is None:
        rows = list(s.execute(query).all())
    else:
        for start in range(0, len(ids), 500):
            rows += s.execute(query.where(JobRow.id.in_(ids[start : start + 500]))).all()
        rows.sort(key=lambda r: r[1])
    return [
        PendingJob(
            job_id=r[0],
            request=Request(r[2], r[3], r[4], r[5], tuple(r[6].split(",")) if r[6] else (), r[7]),
            submitted_at=r[8],
            project=r[9],
            seq=r[1],
            priority_class=r[10],
            nice=r[11],
            time_limit_s=r[12],
            spread=r[13],
            same_rack=r[14],
        )
        for r in rows
    ]


def in_states(s: Session, states: Iterable[JobState]) -> Sequence[JobRow]:
    return s.scalars(
        select(JobRow).where(JobRow.state.in_([str(x) for x in states])).order_by(JobRow.seq)
    ).all()


def waits(s: Session, seqs: list[int]) -> dict[int, JobWait]:
    """The scheduler's explanations for the jobs among ``seqs`` that have one."""
    if not seqs:
        return {}
    return {w.job_seq: w for w in s.scalars(select(JobWait).where(JobWait.job_seq.in_(seqs)))}


# Built once: composing the statement cost more than SQLite's index count itself.
_COUNT_AHEAD = text("SELECT count(*) FROM jobs WHERE state = :state AND seq < :seq")


def queue_positions(s: Session, seqs: Iterable[int]) -> dict[int, int]:
    """1-based place in the FIFO queue of each queued job among ``seqs``."""
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    if len(wanted) == 1:  # one job (submit, get): a count, not the whole queue
        ahead = s.scalar(_COUNT_AHEAD, {"state": str(JobState.QUEUED), "seq": wanted[0]})
        return {wanted[0]: int(ahead or 0) + 1}
    queued = s.scalars(
        select(JobRow.seq)
        .where(JobRow.state == JobState.QUEUED, JobRow.seq <= wanted[-1])
        .order_by(JobRow.seq)
    ).all()
    index = {seq: i + 1 for i, seq in enumerate(queued)}
    return {seq: index[seq] for seq in wanted if seq in index}
