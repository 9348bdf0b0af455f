"""/v1/quotas, /v1/cohorts and project shares: the quota tree. Changes need center-admin."""

from __future__ import annotations

from fastapi import APIRouter, Response

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import (
    CohortCreate,
    CohortMove,
    CohortView,
    ErrorBody,
    ProjectShares,
    QuotaSet,
    QuotaView,
    SharesSet,
)
from aidc.services import quota_admin, quota_views

router = APIRouter(tags=["quotas"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}


@router.get("/v1/quotas", responses=ERRORS)
def list_quotas(c: CenterDep, p: PrincipalDep) -> list[QuotaView]:
    """Quotas you may see, with what is in use now and how much of it is borrowed."""
    return quota_views.list_quotas(c, p)


@router.put("/v1/quotas", responses=ERRORS)
def set_quota(body: QuotaSet, c: CenterDep, p: PrincipalDep) -> QuotaView:
    """Set (replace) one resource of a project's or a cohort's quota."""
    return quota_admin.set_quota(
        c,
        p,
        project=body.project,
        cohort=body.cohort,
        resource=body.resource,
        nominal=body.nominal,
        borrowing_limit=body.borrowing_limit,
        lending_limit=body.lending_limit,
    )


@router.delete("/v1/quotas", status_code=204, responses=ERRORS)
def clear_quota(
    resource: str,
    c: CenterDep,
    p: PrincipalDep,
    project: str | None = None,
    cohort: str | None = None,
) -> Response:
    """Remove one resource of a project's (``?project=``) or cohort's (``?cohort=``) quota."""
    quota_admin.clear_quota(c, p, project=project, cohort=cohort, resource=resource)
    return Response(status_code=204)


@router.get("/v1/cohorts", responses=ERRORS)
def list_cohorts(c: CenterDep, p: PrincipalDep) -> list[CohortView]:
    """The cohort tree as far as you may see it, parents before children."""
    return quota_views.list_cohorts(c, p)


@router.post("/v1/cohorts", status_code=201, responses=ERRORS)
def create_cohort(body: CohortCreate, c: CenterDep, p: PrincipalDep) -> CohortView:
    """Create a program cohort (organisations get theirs when they are created)."""
    return quota_admin.create_cohort(c, p, body.name, kind=body.kind, parent=body.parent)


@router.patch("/v1/cohorts/{name}", responses=ERRORS)
def move_cohort(name: str, body: CohortMove, c: CenterDep, p: PrincipalDep) -> CohortView:
    """Move a cohort under another program cohort, or to the root with ``"parent": null``."""
    return quota_admin.set_parent(c, p, name, body.parent)


@router.put("/v1/projects/{name}/shares", responses=ERRORS)
def set_shares(name: str, body: SharesSet, c: CenterDep, p: PrincipalDep) -> ProjectShares:
    """Set a project's fair-share weight."""
    return quota_admin.set_shares(c, p, name, body.shares)
