"""Notebook sessions: JupyterLab as an interactive job, reached through the server's proxy.

``start`` submits an interactive job (priority class interactive: within nominal quota,
never preempted) whose script runs ``aidc/engines/notebook_launcher.py`` on the node the
scheduler chose. Each job gets a new random Jupyter token, kept in the session's row and in
``<home>/notebooks/<id>/token`` (mode 0600) for the job to read: never in the job's spec,
never shown to anyone. The session learns where JupyterLab listens from its engine
(``InteractivePorts``); the controller marks it ready once JupyterLab answers, stops it when
its job ends, and culls it when idle (``aidc.controller.notebooks``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec, PriorityClass
from aidc.core.notebooks import DATASET_RE, SessionState, idle_limit, progress, stop_reason
from aidc.core.tenancy import Principal, Role, can_cancel_job
from aidc.core.validation import field_errors
from aidc.engines.interactive import LAUNCHER, engine_address
from aidc.schemas_notebooks import NotebookStart, NotebookView
from aidc.services import environments, jobs, jupyter, policy
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.settings import Settings
from aidc.store import jobs as job_store
from aidc.store.models import JobRow, Project, User
from aidc.store.models_notebooks import EnvironmentRow, NotebookRow

LIST_LIMIT = 200
TOKEN_FILE = "token"


def folder(settings: Settings, session_id: str) -> Path:
    return settings.home / "notebooks" / session_id


def start(center: Center, settings: Settings, p: Principal, body: NotebookStart) -> NotebookView:
    """Submit the session's job; the session, starting."""
    bad = [d for d in body.datasets if not DATASET_RE.match(d)]
    if bad:
        raise Invalid(f"{bad[0]!r} is not name@version:/mount", field="datasets")
    with center.db.read() as s:
        class_idle = policy.current(s)[1].of_class(PriorityClass.INTERACTIVE).idle_s
    # Fixed at start, like a job's time limit: a policy change applies to later sessions.
    limit = idle_limit(class_idle, settings.notebook_idle_s)
    idle = limit if body.idle_timeout_s is None else body.idle_timeout_s
    if limit > 0 and not 0 < idle <= limit:
        raise Invalid(
            f"must be more than 0 and at most {limit:g}s, the interactive class's idle limit",
            field="idle_timeout_s",
        )
    session_id = secrets.token_hex(8)
    where = folder(settings, session_id)
    (where / "work").mkdir(parents=True, exist_ok=True)
    token = _new_token(where)
    try:
        spec = _job_spec(center, settings, body, session_id, where)
        job = jobs.submit(center, p, spec)
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)
        raise
    with center.db.transaction() as s:
        row = NotebookRow(
            id=session_id,
            project_id=_project_id(s, body.project),
            user_id=p.user_id,
            job_id=job.id,
            previous_jobs=[],
            state=SessionState.STARTING,
            state_reason="",
            shared=body.shared,
            request=body.model_dump(mode="json", exclude={"datasets", "shared", "environment"}),
            environment=body.environment,
            datasets=list(body.datasets),
            idle_timeout_s=float(idle),
            jupyter_token=token,
            cookie_key=secrets.token_hex(32),
            created_at=center.clock(),
            restarts=0,
        )
        s.add(row)
        s.flush()
        return view(s, row)


def list_sessions(center: Center, p: Principal, *, active_only: bool = False) -> list[NotebookView]:
    """Sessions the caller may see, newest first."""
    with center.db.read() as s:
        q = select(NotebookRow).order_by(NotebookRow.created_at.desc()).limit(LIST_LIMIT)
        if active_only:
            q = q.where(NotebookRow.state != SessionState.STOPPED)
        if not p.is_center_admin:
            # can_see, as SQL, so that the limit counts only the caller's sessions.
            mine = (NotebookRow.user_id == p.user_id) | (
                NotebookRow.shared & NotebookRow.project_id.in_(p.project_ids)
            )
            if p.role is Role.ORG_ADMIN:
                theirs = select(Project.id).where(Project.org_id == p.org_id)
                mine = mine | NotebookRow.project_id.in_(theirs)
            q = q.where(mine)
        return [view(s, r) for r in s.scalars(q)]


def get(center: Center, p: Principal, session_id: str) -> NotebookView:
    with center.db.read() as s:
        row = _visible(s, p, session_id)
        result = view(s, row)
        address, token = row.address, row.jupyter_token
        job = job_store.get(s, row.job_id)
    # A session whose JupyterLab may answer by now is asked at once, not at the
    # controller's next look: `aidc notebook start` waits on this.
    if result.state is SessionState.STARTING and job is not None and job.state == JobState.RUNNING:
        found = address or _engine_address(center, job)
        if found and jupyter.answers(found, session_id, token):
            mark_ready(center, session_id, row.job_id, found)
            with center.db.read() as s:
                result = view(s, _visible(s, p, session_id))
    return result


def stop(center: Center, p: Principal, session_id: str, *, reason: str = "") -> NotebookView:
    """Cancel the session's job (its resources are freed once it has stopped)."""
    with center.db.read() as s:
        row = _visible(s, p, session_id)
        _may_stop(s, p, row)
        job_id = row.job_id
    with contextlib.suppress(Conflict):  # its job had ended already
        jobs.cancel_job(center, p, job_id)
    mark_stopped(center, session_id, job_id, reason or f"stopped by {p.username}")
    with center.db.read() as s:
        return view(s, _visible(s, p, session_id))


def restart(center: Center, settings: Settings, p: Principal, session_id: str) -> NotebookView:
    """Stop the session's job (if it runs) and run the session again in a new job, with a
    new Jupyter token, under the same id, URL and files."""
    with center.db.read() as s:
        row = _visible(s, p, session_id)
        if row.user_id != p.user_id:
            raise Forbidden("only the session's owner can restart it")
        old = job_store.get(s, row.job_id)
        assert old is not None
        spec = JobSpec.model_validate(old.spec)
        old_id = row.job_id
    with contextlib.suppress(Conflict):  # its job had ended already
        jobs.cancel_job(center, p, old_id)
    where = folder(settings, session_id)
    (where / "work").mkdir(parents=True, exist_ok=True)
    token = _new_token(where)
    job = jobs.submit(center, p, spec)
    with center.db.transaction() as s:
        row = _locked(s, session_id)
        row.previous_jobs = [*row.previous_jobs, old_id]
        row.job_id = job.id
        row.jupyter_token = token
        row.state = SessionState.STARTING
        row.state_reason = ""
        row.address = None
        row.ready_at = row.stopped_at = row.last_activity = row.checked_at = None
        row.restarts += 1
        return view(s, row)


# -- what the controller records ----------------------------------------------------------


def mark_ready(center: Center, session_id: str, job_id: str, address: str) -> None:
    with center.db.transaction() as s:
        row = _locked(s, session_id)
        if row.job_id != job_id or row.state != SessionState.STARTING:
            return
        row.state = SessionState.READY
        row.address = address
        row.ready_at = row.last_activity = center.clock()
        row.state_reason = ""


def mark_stopped(center: Center, session_id: str, job_id: str, reason: str) -> None:
    """The session's job ``job_id`` ended or is stopping: nobody enters it any more."""
    with center.db.transaction() as s:
        row = _locked(s, session_id)
        if row.job_id != job_id or row.state == SessionState.STOPPED:
            return
        row.state = SessionState.STOPPED
        row.state_reason = reason
        row.stopped_at = center.clock()
        row.address = None


def _engine_address(center: Center, job: JobRow) -> str | None:
    return engine_address(center.engines.get(job.engine or ""), job.handle)


# -- views and access ---------------------------------------------------------------------


def view(s: Session, row: NotebookRow) -> NotebookView:
    job = job_store.get(s, row.job_id)
    assert job is not None
    project = s.get(Project, row.project_id)
    user = s.get(User, row.user_id)
    job_state = JobState(job.state)
    state, message = SessionState(row.state), row.state_reason
    node = (job.placement or {}).get("nodes", [{}])[0].get("node") if job.placement else None
    if state is not SessionState.STOPPED and job_state.is_terminal:
        state = SessionState.STOPPED
        message = stop_reason(job_state, job.state_reason, job.time_limit_s)
    elif state is SessionState.STARTING:
        position, wait = None, ""
        if job_state is JobState.QUEUED:
            w = job_store.waits(s, [job.seq]).get(job.seq)
            position = w.position if w else job_store.queue_positions(s, [job.seq]).get(job.seq)
            wait = w.message if w else ""
        message = progress(
            job_state,
            position=position,
            wait_message=wait,
            node=node or "",
            address_known=row.address is not None,
        )
    elif state is SessionState.READY:
        message = f"ready on {node}" if node else "ready"
    return NotebookView(
        id=row.id,
        project=project.name if project else "",
        user=user.username if user else "",
        state=state,
        message=message,
        url=jupyter.base_url(row.id),
        job_id=row.job_id,
        job_state=str(job_state),
        previous_jobs=list(row.previous_jobs),
        shared=row.shared,
        request=dict(row.request),
        environment=row.environment,
        datasets=list(row.datasets),
        node=node,
        idle_timeout_s=row.idle_timeout_s,
        time_limit_s=job.time_limit_s,
        created_at=row.created_at,
        ready_at=row.ready_at,
        stopped_at=row.stopped_at,
        expires_at=job.started_at + job.time_limit_s if job.started_at is not None else None,
        last_activity=row.last_activity,
        restarts=row.restarts,
    )


def can_see(s: Session, p: Principal, row: NotebookRow) -> bool:
    """Owner, operators, the organisation's admins, and for a shared session the project's
    members."""
    if p.is_center_admin or p.user_id == row.user_id:
        return True
    if row.shared and row.project_id in p.project_ids:
        return True
    project = s.get(Project, row.project_id)
    return p.role is Role.ORG_ADMIN and project is not None and project.org_id == p.org_id


def _visible(s: Session, p: Principal, session_id: str) -> NotebookRow:
    row = s.get(NotebookRow, session_id)
    if row is None or not can_see(s, p, row):
        # Another tenant's session answers exactly like one that does not exist.
        raise NotFound(f"no notebook session {session_id!r}", field="session_id")
    return row


def _may_stop(s: Session, p: Principal, row: NotebookRow) -> None:
    project = s.get(Project, row.project_id)
    assert project is not None
    if not can_cancel_job(p, row.user_id, row.project_id, project.org_id):
        raise Forbidden("only the session's owner or an admin of its organisation can stop it")


def _locked(s: Session, session_id: str) -> NotebookRow:
    row = s.scalars(
        select(NotebookRow).where(NotebookRow.id == session_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(f"no notebook session {session_id!r}", field="session_id")
    return row


def _project_id(s: Session, name: str) -> int:
    pid = s.scalar(select(Project.id).where(Project.name == name))
    assert pid is not None  # jobs.submit accepted it
    return pid


def _new_token(where: Path) -> str:
    """A fresh Jupyter token, written where the session's job reads it (owner-only)."""
    token = secrets.token_urlsafe(32)
    path = where / TOKEN_FILE
    tmp = where / f".{TOKEN_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.replace(tmp, path)
    return token


def _job_spec(
    center: Center, settings: Settings, body: NotebookStart, session_id: str, where: Path
) -> JobSpec:
    python = settings.notebook_python or sys.executable
    if body.environment is not None:
        with center.db.read() as s:
            env = s.scalars(
                select(EnvironmentRow)
                .join(Project, Project.org_id == EnvironmentRow.org_id)
                .where(Project.name == body.project, EnvironmentRow.name == body.environment)
            ).one_or_none()
        # The environment's own JupyterLab if it has one: its kernel then runs its Python.
        python = (env and environments.jupyter_python(env.venv_path)) or python
    q = shlex.quote
    script = (
        f"# aidc notebook session {session_id}: JupyterLab on the node the scheduler chose\n"
        f"exec {q(python)} -I {q(str(LAUNCHER))} --python {q(python)}"
        f" --token-file {q(str(where / TOKEN_FILE))} --base-url {q(jupyter.base_url(session_id))}"
        f" --root-dir {q(str(where / 'work'))}\n"
    )
    fields = {
        "accelerators": body.accelerators,
        "accelerator_type": body.accelerator_type,
        "cpus": body.cpus,
        "memory_mib": body.memory_mib,
        "time_limit_s": body.time_limit_s,
    }
    try:
        return JobSpec.model_validate(
            {
                "project": body.project,
                "name": f"notebook-{session_id}",
                "script": script,
                "workdir": str(where / "work"),
                **fields,
                "priority_class": PriorityClass.INTERACTIVE,
                "environment": body.environment,
                # Mounted like a batch job's: checked (restricted: a live grant) at submit
                # and again at launch, a read-only view in the run's folder.
                "datasets": list(body.datasets),
            }
        )
    except ValidationError as e:
        found = field_errors(e.errors())
        raise Invalid("; ".join(f"{f}: {m}" for f, m in found), fields=found) from None
