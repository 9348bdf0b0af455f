"""Governed access: grants to restricted datasets, the airlock of job outputs, the
dataset audit log, and an organisation's storage."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, StreamingResponse

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.routes.datasets import ERRORS
from aidc.schemas_datasets import (
    AirlockView,
    AuditView,
    GrantDecision,
    GrantRequest,
    GrantView,
    StorageView,
)
from aidc.services import datasets_airlock, datasets_audit, datasets_grants, datasets_quota
from aidc.services.errors import Invalid

router = APIRouter(tags=["datasets"])


@router.post("/v1/dataset-grants", status_code=201, responses=ERRORS)
def request_grant(body: GrantRequest, c: CenterDep, p: PrincipalDep) -> GrantView:
    """Ask for a project's access to a restricted dataset (purpose and period)."""
    return datasets_grants.request_grant(c, p, body)


@router.get("/v1/dataset-grants", responses=ERRORS)
def list_grants(
    c: CenterDep, p: PrincipalDep, dataset: str | None = None, state: str | None = None
) -> list[GrantView]:
    return datasets_grants.list_grants(c, p, dataset=dataset, state=state)


@router.post("/v1/dataset-grants/{grant_id}/{decision}", responses=ERRORS)
def decide_grant(
    grant_id: int, decision: str, body: GrantDecision, c: CenterDep, p: PrincipalDep
) -> GrantView:
    """approve, reject (with a reason) or revoke; data stewards and center admins."""
    if decision == "revoke":
        return datasets_grants.revoke(c, p, grant_id, body)
    if decision not in ("approve", "reject"):
        raise Invalid("decide with approve, reject or revoke", field="decision")
    return datasets_grants.decide(c, p, grant_id, decision == "approve", body)


@router.get("/v1/airlock", responses=ERRORS)
def list_outputs(c: CenterDep, p: PrincipalDep, state: str | None = None) -> list[AirlockView]:
    return datasets_airlock.list_outputs(c, p, state)


@router.get("/v1/airlock/{job_id}", responses=ERRORS)
def show_output(job_id: str, c: CenterDep, p: PrincipalDep) -> AirlockView:
    return datasets_airlock.show(c, p, job_id)


@router.post("/v1/airlock/{job_id}/{decision}", responses=ERRORS)
def decide_output(
    job_id: str, decision: str, body: GrantDecision, c: CenterDep, p: PrincipalDep
) -> AirlockView:
    """release or reject (with a reason) a job's held outputs; data stewards."""
    if decision not in ("release", "reject"):
        raise Invalid("decide with release or reject", field="decision")
    return datasets_airlock.decide(c, p, job_id, decision == "release", body)


@router.get("/v1/airlock/{job_id}/files/{path:path}", responses=ERRORS)
def download_output(job_id: str, path: str, c: CenterDep, p: PrincipalDep) -> StreamingResponse:
    """A released output file (held or rejected ones: 403)."""
    meta, chunks = datasets_airlock.open_output(c, p, job_id, path)
    headers = {
        "Content-Length": str(meta.size),
        "X-Aidc-Sha256": meta.sha256,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
    }
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.get("/v1/audit/datasets", responses=ERRORS, response_model=None)
def audit(
    c: CenterDep,
    p: PrincipalDep,
    dataset: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    project: str | None = None,
    outcome: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 1000,
    format: str = "json",
) -> list[AuditView] | PlainTextResponse:
    """The dataset audit log, newest first (operators and data stewards); format=csv."""
    rows = datasets_audit.search(
        c,
        p,
        dataset=dataset,
        actor=actor,
        action=action,
        project=project,
        outcome=outcome,
        since=since,
        until=until,
        limit=limit,
    )
    if format == "csv":
        return PlainTextResponse(datasets_audit.as_csv(rows), media_type="text/csv")
    if format != "json":
        raise Invalid("format is json or csv", field="format")
    return rows


@router.get("/v1/storage", responses=ERRORS)
def storage(c: CenterDep, p: PrincipalDep, organisation: str | None = None) -> StorageView:
    """An organisation's dataset storage: used and allowed bytes."""
    return datasets_quota.storage(c, p, organisation)
