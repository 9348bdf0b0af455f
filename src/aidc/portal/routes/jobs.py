"""Tenant pages: the dashboard, the job form, a job's detail with its live log, cancel."""

from __future__ import annotations

import shlex
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from pydantic import ValidationError

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec, PriorityClass
from aidc.core.validation import field_errors
from aidc.portal import web
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.services import jobs, ledger_views, quota_views, tenancy
from aidc.services.errors import Invalid
from aidc.services.portal_sessions import SessionUser

router = APIRouter()
LOG_CHUNK = 64 * 1024
# The form's fields, in the order they are shown; the ones left empty take JobSpec's defaults.
FORM_FIELDS = (
    "project",
    "name",
    "command",
    "script",
    "accelerators",
    "accelerator_type",
    "cpus",
    "memory_mib",
    "time_limit_s",
    "priority_class",
)


@router.get("/")
def dashboard(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = user.principal
    me = tenancy.whoami(c, p)
    quotas = [q for q in quota_views.list_quotas(c, p) if q.owner_kind == "project"]
    running = jobs.list_jobs(c, p, state=JobState.RUNNING, limit=100)
    queued = jobs.list_jobs(c, p, state=JobState.QUEUED, limit=100)
    queued.sort(key=lambda j: j.queue_position if j.queue_position is not None else 1 << 30)
    recent = jobs.list_jobs(c, p, limit=20)
    return web.render(
        request,
        "dashboard.html",
        t,
        user,
        me=me,
        quotas=quotas,
        credits=ledger_views.list_credits(c, p),
        running=running,
        queued=queued,
        recent=recent,
    )


@router.get("/jobs/new")
def new_job(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    return _form(request, c, t, user, values={}, errors={})


def _form(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: SessionUser,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    projects = [x.name for x in tenancy.whoami(c, user.principal).projects]
    return web.render(
        request,
        "job_new.html",
        t,
        user,
        status=status,
        projects=projects,
        classes=[str(x) for x in PriorityClass],
        values=values,
        errors=errors,
    )


@router.post("/jobs")
async def submit(request: Request, c: CenterDep, t: TDep, user: FormUserDep) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in FORM_FIELDS}
    try:
        spec = JobSpec.model_validate(_spec_fields(values))
        job = await run_in_threadpool(jobs.submit, c, user.principal, spec)
    except ValidationError as e:
        errors = dict(reversed(field_errors(e.errors())))  # the first message per field
        return _form(request, c, t, user, values=values, errors=errors, status=422)
    except Invalid as e:
        errors = {e.field or "project": e.message}
        return _form(request, c, t, user, values=values, errors=errors, status=422)
    return web.redirect(f"/jobs/{job.id}")


def _spec_fields(values: dict[str, str]) -> dict[str, Any]:
    """The form as JobSpec's input: the same field names, so its messages name them."""
    spec: dict[str, Any] = {k: v for k, v in values.items() if v and k not in ("command",)}
    if values["command"]:
        try:
            spec["command"] = shlex.split(values["command"])
        except ValueError as e:
            raise Invalid(f"command: {e} (quote it as in a shell)", field="command") from None
    return spec


@router.get("/jobs/{job_id}")
def job_detail(job_id: str, request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    return web.render(request, "job.html", t, user, **_job_context(c, user, job_id))


@router.get("/jobs/{job_id}/status")
def job_status(job_id: str, request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    """The live part of the page (state, wait reason, timeline), polled while it runs."""
    return web.render(request, "job_status.html", t, user, **_job_context(c, user, job_id))


def _job_context(c: CenterDep, user: SessionUser, job_id: str) -> dict[str, Any]:
    job = jobs.get_job(c, user.principal, job_id)
    return {"job": job, "events": jobs.job_events(c, user.principal, job_id)}


@router.get("/jobs/{job_id}/log", response_class=HTMLResponse)
async def job_log(
    job_id: str, request: Request, c: CenterDep, user: UserDep, offset: int = 0
) -> Response:
    """The log from ``offset``, then a poller for what comes next (none once it ended)."""
    chunk = await run_in_threadpool(jobs.read_log, c, user.principal, job_id, offset, LOG_CHUNK)
    data = chunk.data if chunk.finished else whole_characters(chunk.data)
    text = str(escape(data.decode("utf-8", errors="replace")))
    done = chunk.finished and not chunk.data
    if not done:
        url = f"{web.PREFIX}/jobs/{job_id}/log?offset={offset + len(data)}"
        delay = "0s" if len(chunk.data) == LOG_CHUNK else "1s"
        text += (
            f'<span class="log-poller" hx-get="{url}" hx-trigger="load delay:{delay}" '
            'hx-swap="outerHTML"></span>'
        )
    return HTMLResponse(text)


def whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut off at its end (Korean text is 3 bytes a
    character): the next read starts with the whole character instead."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing is cut
            return data
        if byte >= 0xC0:  # the first byte of a character: is it complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, c: CenterDep, user: FormUserDep) -> Response:
    jobs.cancel_job(c, user.principal, job_id)
    return web.redirect(f"/jobs/{job_id}")
