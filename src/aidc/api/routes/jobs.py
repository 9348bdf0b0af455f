"""/v1/jobs: submit, list, get, cancel, events, logs, and the history export."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, StreamingResponse

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.errors import json_errors
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.schemas import CancelRequest, CancelResultView, ErrorBody, EventView, JobView
from aidc.services import job_export, jobs

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422, 429)
}
LOG_CHUNK = 256 * 1024
FOLLOW_POLL_S = 0.2


@router.post("", status_code=201, responses=ERRORS)
def submit(spec: JobSpec, c: CenterDep, p: PrincipalDep) -> JobView:
    """Queue a job. Sizes may be text: ``"memory_mib": "16G"``, ``"time_limit_s": "2h"``."""
    return jobs.submit(c, p, spec)


@router.get("", responses=ERRORS)
def list_jobs(
    c: CenterDep,
    p: PrincipalDep,
    state: JobState | None = None,
    project: str | None = None,
    user: str | None = None,
    limit: Annotated[int, Query(ge=1, le=jobs.LIST_LIMIT_MAX)] = 100,
) -> list[JobView]:
    """Jobs you may see (your projects; your organisation's if you are its admin)."""
    return jobs.list_jobs(c, p, state=state, project=project, user=user, limit=limit)


@router.post("/cancel", responses=ERRORS)
def cancel_jobs(body: CancelRequest, c: CenterDep, p: PrincipalDep) -> list[CancelResultView]:
    """Cancel many jobs at once (``aidc cancel ID ID ...``); each gets its own result."""
    return [CancelResultView(**vars(r)) for r in jobs.cancel_jobs(c, p, body.ids)]


@router.get(
    "/export",
    responses={**json_errors(ERRORS), 200: {"content": {"text/csv": {}}}},
    response_class=PlainTextResponse,
)
def export(c: CenterDep, p: PrincipalDep, project: str | None = None) -> StreamingResponse:
    """The job history as CSV (``aidc.core.history_format.COLUMNS``), oldest first: every
    job you may see (operators: all), to replay in the simulator (format ``aidc-history``)."""
    rows = job_export.history_rows(c, p, project=project)
    return StreamingResponse(
        job_export.csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="aidc-jobs.csv"'},
    )


@router.get("/{job_id}", responses=ERRORS)
def get_job(job_id: str, c: CenterDep, p: PrincipalDep) -> JobView:
    return jobs.get_job(c, p, job_id)


@router.post("/{job_id}/cancel", responses=ERRORS)
def cancel_job(job_id: str, c: CenterDep, p: PrincipalDep) -> JobView:
    """Cancel: at once if not started, else SIGTERM, then SIGKILL after the grace period."""
    return jobs.cancel_job(c, p, job_id)


@router.get("/{job_id}/events", responses=ERRORS)
def job_events(job_id: str, c: CenterDep, p: PrincipalDep) -> list[EventView]:
    """The job's history: every state change with time, reason and actor."""
    return jobs.job_events(c, p, job_id)


@router.get(
    "/{job_id}/logs",
    responses={**json_errors(ERRORS), 200: {"content": {"text/plain": {}}}},
    response_class=PlainTextResponse,
)
async def job_logs(
    job_id: str,
    c: CenterDep,
    p: PrincipalDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    follow: bool = False,
) -> StreamingResponse:
    """Combined stdout/stderr from ``offset``; with ``follow`` the stream stays open until
    the job ends. The ``X-Log-Offset`` header says where the next read starts."""
    first = await run_in_threadpool(jobs.read_log, c, p, job_id, offset, LOG_CHUNK)

    async def stream() -> AsyncIterator[bytes]:
        chunk = first
        while True:
            if chunk.data:
                yield chunk.data
            if not follow and len(chunk.data) < LOG_CHUNK:
                return
            if chunk.finished:
                return
            if len(chunk.data) < LOG_CHUNK:
                await asyncio.sleep(FOLLOW_POLL_S)
            chunk = await run_in_threadpool(jobs.read_log, c, p, job_id, chunk.offset, LOG_CHUNK)

    headers = {"X-Log-Offset": str(first.offset), "Cache-Control": "no-cache"}
    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8", headers=headers)
