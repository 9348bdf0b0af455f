"""Tenant use cases on jobs: submit, list, get, cancel, history and logs."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.tenancy import Principal, Role, can_cancel_job, can_read_job, can_submit
from aidc.scheduler.feasibility import why_infeasible, why_never_within_nominal
from aidc.schemas import EventView, JobView, WaitView
from aidc.services import audit, datasets_jobs, environments
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound, TooMany
from aidc.services.nodes import inventory_nodes
from aidc.services.policy import current as current_policy
from aidc.services.quotas import quota_tree
from aidc.store import jobs as job_store
from aidc.store.models import JobRow, JobWait, Project, User

LIST_LIMIT_MAX = 1000


def submit(center: Center, p: Principal, spec: JobSpec) -> JobView:
    """Queue ``spec`` under its project, or refuse it with the field at fault."""
    if p.role is Role.VIEWER:
        raise Forbidden("viewers cannot submit jobs; ask an org admin for the member role")
    spec = datasets_jobs.check_submit(center, p, spec)  # access, pinned versions
    now = center.clock()
    request = spec.request()
    # Checks read without the write lock; the write itself is two inserts.
    with center.db.read() as s:
        project_id = s.scalar(select(Project.id).where(Project.name == spec.project))
        if project_id is None or not can_submit(p, project_id):
            mine = _project_names(s, p)
            raise Invalid(
                f"no project {spec.project!r} that you can submit to; yours: "
                f"{', '.join(mine) or 'none (ask an org admin to add you)'}",
                field="project",
            )
        if spec.environment is not None:
            environments.check_usable(s, spec.environment, _org_of(s, project_id))
        _, policy = current_policy(s)
        nodes = inventory_nodes(s)
        infeasible = why_infeasible(request, nodes)
        if infeasible is not None:
            field, message = infeasible
            raise Invalid(f"{field}: {message}", field=field)
        if not policy.of_class(spec.priority_class).may_borrow:
            over = why_never_within_nominal(request, spec.project, quota_tree(s), nodes)
            if over is not None:
                raise Invalid(f"priority_class: {over}", field="priority_class")
    with center.db.transaction() as s:
        _check_queued_limit(center, s, p)
        row = job_store.add_job(
            s,
            job_id=secrets.token_hex(8),
            project_id=project_id,
            user_id=p.user_id,
            spec=spec.model_dump(mode="json"),
            request=request,
            time_limit_s=spec.time_limit_s
            or policy.of_class(spec.priority_class).default_time_limit_s,
            at=now,
            actor=p.username,
        )
        view = _views(s, [row], {project_id: spec.project}, {p.user_id: p.username})[0]
    center.bus.publish("job.submitted", {"job_id": view.id})
    return view


def _check_queued_limit(center: Center, s: Session, p: Principal) -> None:
    cap = center.max_queued_per_user
    if cap is None:
        return
    # The user's row locked: two submits at once on PostgreSQL count one after the other.
    s.execute(select(User.id).where(User.id == p.user_id).with_for_update())
    queued = s.scalar(
        select(func.count())
        .select_from(JobRow)
        .where(JobRow.user_id == p.user_id, JobRow.state == JobState.QUEUED.value)
    )
    if (queued or 0) >= cap:
        raise TooMany(
            f"you have {queued} queued jobs, the limit per user (AIDC_MAX_QUEUED_PER_USER) "
            f"is {cap}; wait for some to start or cancel some",
            field="limit",
        )


def list_jobs(
    center: Center,
    p: Principal,
    *,
    state: JobState | None = None,
    project: str | None = None,
    user: str | None = None,
    limit: int = 100,
) -> list[JobView]:
    """Jobs the caller may see, newest first."""
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise Invalid(f"limit must be between 1 and {LIST_LIMIT_MAX}", field="limit")
    with center.db.read() as s:
        q = visible(select(JobRow).join(Project, Project.id == JobRow.project_id), p)
        if state is not None:
            q = q.where(JobRow.state == state)
        if project is not None:
            q = q.where(Project.name == project)
        if user is not None:
            q = q.join(User, User.id == JobRow.user_id).where(User.username == user)
        rows: Sequence[JobRow] = s.scalars(q.order_by(JobRow.seq.desc()).limit(limit)).all()
        return _views(s, rows)


def get_job(center: Center, p: Principal, job_id: str) -> JobView:
    with center.db.read() as s:
        return _views(s, [_readable(s, p, job_id)])[0]


def cancel_job(center: Center, p: Principal, job_id: str) -> JobView:
    """Cancel at once if it has not started; else ask the controller to stop it."""
    now = center.clock()
    with center.db.transaction() as s:
        row = _readable(s, p, job_id, lock=True)
        _cancel(s, p, row, now)
        view = _views(s, [row])[0]
    center.bus.publish("job.cancel_requested", {"job_id": job_id})
    return view


def cancel_jobs(center: Center, p: Principal, job_ids: Sequence[str]) -> list[CancelResult]:
    """``cancel_job`` for many jobs in one transaction (and one wake-up of the controller),
    as ``scancel ID...`` does; each job's result says what happened to it. Jobs the caller
    may not see answer "not found", exactly like jobs that do not exist."""
    ids = list(dict.fromkeys(job_ids))
    if not 1 <= len(ids) <= LIST_LIMIT_MAX:
        raise Invalid(f"name between 1 and {LIST_LIMIT_MAX} job ids", field="ids")
    now = center.clock()
    results = []
    with center.db.transaction() as s:
        rows = job_store.get_many(s, ids, lock=True)
        for job_id in ids:
            row = rows.get(job_id)
            if row is None or not _can_read(s, p, row):
                results.append(CancelResult(job_id, "not found", f"no job {job_id!r}"))
                continue
            try:
                result = _cancel(s, p, row, now)
            except (Forbidden, Conflict) as e:
                outcome = "forbidden" if isinstance(e, Forbidden) else "finished"
                results.append(CancelResult(job_id, outcome, str(e)))
                continue
            results.append(CancelResult(job_id, result, str(row.state)))
    if any(r.result in ("cancelled", "stopping") for r in results):
        center.bus.publish("job.cancel_requested", {"job_ids": ids})
    return results


@dataclass(frozen=True)
class CancelResult:
    job_id: str
    # cancelled (it had not started), stopping (SIGTERM on its way), finished (it had
    # ended already), forbidden (not the caller's to cancel), not found
    result: str
    message: str


def _cancel(s: Session, p: Principal, row: JobRow, now: float) -> str:
    """Cancel ``row`` for ``p``: "cancelled" at once if it had not started, else
    "stopping" (the controller passes the cancel on to the engine)."""
    project = s.get(Project, row.project_id)
    assert project is not None
    if not can_cancel_job(p, row.user_id, row.project_id, project.org_id):
        raise Forbidden("only the job's owner or an admin of its organisation can cancel it")
    state = JobState(row.state)
    if state.is_terminal:
        raise Conflict(f"job {row.id} already finished as {state}", field="job_id")
    if p.user_id != row.user_id:
        audit.record(
            s,
            at=now,
            actor=p.username,
            action="job.cancelled_by_admin",
            target_kind="job",
            target=row.id,
            org_id=project.org_id,
            state=str(state),
        )
    if state in (JobState.QUEUED, JobState.ADMITTED, JobState.PREEMPTED):
        reason = f"cancelled by {p.username}"
        job_store.apply_transition(
            s, row, JobState.CANCELLED, at=now, reason=reason, actor=p.username
        )
        return "cancelled"
    if row.cancel_requested_at is None:
        row.cancel_requested_at = now
        job_store.add_note(
            s, row, at=now, reason=f"cancel requested by {p.username}", actor=p.username
        )
    return "stopping"


def job_events(center: Center, p: Principal, job_id: str) -> list[EventView]:
    with center.db.read() as s:
        row = _readable(s, p, job_id)
        return [
            EventView(
                at=e.at,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
                actor=e.actor,
            )
            for e in job_store.events(s, row)
        ]


@dataclass(frozen=True)
class LogChunk:
    data: bytes
    offset: int  # where the next read starts
    finished: bool  # the job has ended, so no more output will come


def read_log(center: Center, p: Principal, job_id: str, offset: int, limit: int) -> LogChunk:
    if offset < 0:
        raise Invalid("offset must be >= 0", field="offset")
    with center.db.read() as s:
        row = _readable(s, p, job_id)
        finished = JobState(row.state).is_terminal
        engine_name, handle = row.engine, row.handle
    datasets_jobs.check_log_read(center, p, job_id, row.spec)  # restricted data stays in
    if engine_name is None or handle is None:
        return LogChunk(b"", offset, finished)
    # Read outside the transaction: engines may be slow.
    data = center.engines[engine_name].read_log(handle, offset, limit)
    return LogChunk(data, offset + len(data), finished and len(data) < limit)


# -- helpers ------------------------------------------------------------------------------


def visible(q: Select[Any], p: Principal) -> Select[Any]:
    if p.is_center_admin:
        return q
    if p.role is Role.ORG_ADMIN:
        return q.where((Project.org_id == p.org_id) | Project.id.in_(p.project_ids))
    return q.where(Project.id.in_(p.project_ids))


def _readable(s: Session, p: Principal, job_id: str, *, lock: bool = False) -> JobRow:
    row = job_store.get(s, job_id, lock=lock)
    if row is not None and _can_read(s, p, row):
        return row
    # Another tenant's job answers exactly like a job that does not exist.
    raise NotFound(f"no job {job_id!r}", field="job_id")


def _can_read(s: Session, p: Principal, row: JobRow) -> bool:
    project = s.get(Project, row.project_id)
    return project is not None and can_read_job(p, project.id, project.org_id)


def _org_of(s: Session, project_id: int) -> int:
    project = s.get(Project, project_id)
    assert project is not None
    return project.org_id


def _wait_view(w: JobWait | None) -> WaitView | None:
    if w is None:
        return None
    return WaitView.model_validate(w, from_attributes=True)


def _project_names(s: Session, p: Principal) -> list[str]:
    return list(
        s.scalars(select(Project.name).where(Project.id.in_(p.project_ids)).order_by(Project.name))
    )


def _views(
    s: Session,
    rows: Sequence[JobRow],
    projects: dict[int, str] | None = None,
    users: dict[int, str] | None = None,
) -> list[JobView]:
    """Views of ``rows``; callers that already know the project and user names pass them."""
    if projects is None:
        ids = {r.project_id for r in rows}
        q = select(Project.id, Project.name).where(Project.id.in_(ids))
        projects = {i: n for i, n in s.execute(q)}
    if users is None:
        ids = {r.user_id for r in rows}
        q = select(User.id, User.username).where(User.id.in_(ids))
        users = {i: n for i, n in s.execute(q)}
    queued = [r.seq for r in rows if r.state == JobState.QUEUED]
    waits = job_store.waits(s, queued)
    # Until the scheduler has looked at a job, its place in submission order stands in.
    positions = job_store.queue_positions(s, [q for q in queued if q not in waits])
    return [
        JobView(
            id=r.id,
            name=r.name,
            project=projects[r.project_id],
            user=users[r.user_id],
            state=JobState(r.state),
            state_reason=r.state_reason,
            spec=r.spec,
            submitted_at=r.submitted_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            exit_code=r.exit_code,
            placement=r.placement,
            queue_position=waits[r.seq].position if r.seq in waits else positions.get(r.seq),
            time_limit_s=r.time_limit_s,
            wait=_wait_view(waits.get(r.seq)),
            cancel_requested=r.cancel_requested_at is not None,
            attempt=r.attempt,
            preemptions=r.preemptions,
            lost_accelerator_seconds=r.lost_accelerator_seconds,
            stopping=not JobState(r.state).is_terminal
            and (r.cancel_requested_at is not None or r.preempt_requested_at is not None),
        )
        for r in rows
    ]
