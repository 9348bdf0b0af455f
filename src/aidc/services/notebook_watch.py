"""The controller's use cases on notebook sessions: which to look at, what it saw, and
culling an idle one (its job is cancelled, so its resources are freed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from aidc.core.job_states import JobState
from aidc.core.notebooks import SessionState, stop_reason
from aidc.engines.base import Handle
from aidc.services.center import Center
from aidc.services.notebooks import mark_stopped
from aidc.store import jobs as job_store
from aidc.store.models import JobRow
from aidc.store.models_notebooks import NotebookRow

CULLER = "notebook-culler"


@dataclass(frozen=True)
class Watched:
    """A session that is not stopped, with what its job is doing."""

    session_id: str
    state: SessionState
    job_id: str
    job_state: JobState
    job_reason: str
    time_limit_s: float
    engine: str | None
    handle: Handle | None
    address: str | None
    token: str
    idle_timeout_s: float
    ready_at: float | None
    checked_at: float | None
    last_activity: float | None


def active(center: Center) -> list[Watched]:
    """Every session not stopped, in one query (the controller asks each pass)."""
    with center.db.read() as s:
        q = (
            select(NotebookRow, JobRow)
            .join(JobRow, JobRow.id == NotebookRow.job_id)
            .where(NotebookRow.state != SessionState.STOPPED)
        )
        return [
            Watched(
                n.id,
                SessionState(n.state),
                j.id,
                JobState(j.state),
                j.state_reason,
                j.time_limit_s,
                j.engine,
                j.handle,
                n.address,
                n.jupyter_token,
                n.idle_timeout_s,
                n.ready_at,
                n.checked_at,
                n.last_activity,
            )
            for n, j in s.execute(q)
        ]


def ended(center: Center, w: Watched) -> None:
    """Its job ended: the session stops with the job's reason in the user's terms."""
    mark_stopped(
        center, w.session_id, w.job_id, stop_reason(w.job_state, w.job_reason, w.time_limit_s)
    )


def record_activity(center: Center, session_id: str, last_active: float) -> None:
    with center.db.transaction() as s:
        row = s.get(NotebookRow, session_id)
        if row is not None:
            row.last_activity = last_active
            row.checked_at = center.clock()


def cull(center: Center, w: Watched, idle_s: float) -> None:
    """Stop a session idle for ``idle_s``: cancel its job and say why, in both."""
    now = center.clock()
    why = f"culled: no kernel or terminal activity for {idle_s:.0f}s (limit {w.idle_timeout_s:g}s)"
    with center.db.transaction() as s:
        job = job_store.get(s, w.job_id, lock=True)
        if job is None or JobState(job.state).is_terminal:
            return
        state = JobState(job.state)
        if state in (JobState.QUEUED, JobState.ADMITTED):
            job_store.apply_transition(s, job, JobState.CANCELLED, at=now, reason=why, actor=CULLER)
        elif job.cancel_requested_at is None:
            job.cancel_requested_at = now
            job_store.add_note(s, job, at=now, reason=f"cancel requested: {why}", actor=CULLER)
    mark_stopped(center, w.session_id, w.job_id, why)
    center.bus.publish("job.cancel_requested", {"job_id": w.job_id})
