"""/v1/allocations: requests, reviews, renewals and change requests (docs/allocations.md)."""

from __future__ import annotations

from fastapi import APIRouter

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.params import RowId
from aidc.api.routes import organisations, programs
from aidc.schemas import ErrorBody
from aidc.schemas_allocations import (
    AllocationCreate,
    AllocationEventView,
    AllocationView,
    Amend,
    Approval,
    ChangeCreate,
    Decision,
    RenewalCreate,
)
from aidc.services import allocation_review, allocation_views, allocations

router = APIRouter(tags=["allocations"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}


@router.post("/v1/allocations", status_code=201, responses=ERRORS)
def request_allocation(body: AllocationCreate, c: CenterDep, p: PrincipalDep) -> AllocationView:
    """Ask a program for capacity for a project of your organisation (org admins)."""
    return allocations.request(
        c,
        p,
        project=body.project,
        program=body.program,
        justification=body.justification,
        hours=body.hours,
        quota=body.quota,
        storage_gb=body.storage_gb,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )


@router.get("/v1/allocations", responses=ERRORS)
def list_allocations(
    c: CenterDep,
    p: PrincipalDep,
    state: str | None = None,
    program: str | None = None,
    project: str | None = None,
) -> list[AllocationView]:
    """Allocations you may see, newest first."""
    return allocation_views.list_allocations(c, p, state=state, program=program, project=project)


@router.get("/v1/allocations/{allocation_id}", responses=ERRORS)
def show_allocation(allocation_id: RowId, c: CenterDep, p: PrincipalDep) -> AllocationView:
    return allocation_views.show(c, p, allocation_id)


@router.get("/v1/allocations/{allocation_id}/events", responses=ERRORS)
def allocation_history(
    allocation_id: RowId, c: CenterDep, p: PrincipalDep
) -> list[AllocationEventView]:
    """Every step: who, when, what, why."""
    return allocation_views.history(c, p, allocation_id)


@router.post("/v1/allocations/{allocation_id}/comment", responses=ERRORS)
def comment(allocation_id: RowId, body: Decision, c: CenterDep, p: PrincipalDep) -> AllocationView:
    return allocations.comment(c, p, allocation_id, body.reason)


@router.post("/v1/allocations/{allocation_id}/ask-changes", responses=ERRORS)
def ask_changes(
    allocation_id: RowId, body: Decision, c: CenterDep, p: PrincipalDep
) -> AllocationView:
    return allocation_review.ask_changes(c, p, allocation_id, body.reason)


@router.post("/v1/allocations/{allocation_id}/resubmit", responses=ERRORS)
def resubmit(allocation_id: RowId, body: Amend, c: CenterDep, p: PrincipalDep) -> AllocationView:
    return allocations.resubmit(
        c,
        p,
        allocation_id,
        reason=body.reason,
        justification=body.justification,
        hours=body.hours,
        quota=body.quota,
        storage_gb=body.storage_gb,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )


@router.post("/v1/allocations/{allocation_id}/approve", responses=ERRORS)
def approve(allocation_id: RowId, body: Approval, c: CenterDep, p: PrincipalDep) -> AllocationView:
    """Approve, possibly granting less than asked (fields left out grant the request)."""
    return allocation_review.approve(
        c,
        p,
        allocation_id,
        hours=body.hours,
        quota=body.quota,
        storage_gb=body.storage_gb,
        reason=body.reason,
    )


@router.post("/v1/allocations/{allocation_id}/reject", responses=ERRORS)
def reject(allocation_id: RowId, body: Decision, c: CenterDep, p: PrincipalDep) -> AllocationView:
    return allocation_review.reject(c, p, allocation_id, body.reason)


@router.post("/v1/allocations/{allocation_id}/withdraw", responses=ERRORS)
def withdraw(allocation_id: RowId, body: Decision, c: CenterDep, p: PrincipalDep) -> AllocationView:
    return allocations.withdraw(c, p, allocation_id, body.reason)


@router.post("/v1/allocations/{allocation_id}/renew", status_code=201, responses=ERRORS)
def renew(
    allocation_id: RowId, body: RenewalCreate, c: CenterDep, p: PrincipalDep
) -> AllocationView:
    """A new request continuing an active or expired allocation."""
    return allocations.renew(
        c,
        p,
        allocation_id,
        justification=body.justification,
        hours=body.hours,
        quota=body.quota,
        storage_gb=body.storage_gb,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        program=body.program,
    )


@router.post("/v1/allocations/{allocation_id}/change", status_code=201, responses=ERRORS)
def change(
    allocation_id: RowId, body: ChangeCreate, c: CenterDep, p: PrincipalDep
) -> AllocationView:
    """Ask to amend an active allocation: added hours, a new quota, a later end."""
    return allocations.change(
        c,
        p,
        allocation_id,
        justification=body.justification,
        hours=body.hours,
        quota=body.quota,
        storage_gb=body.storage_gb,
        ends_at=body.ends_at,
    )


# What app.py includes: organisations and invitations, programs, allocations.
ROUTERS = (organisations.router, programs.router, router)
