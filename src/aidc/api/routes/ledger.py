"""/v1/credits, /v1/notifications and /v1/ledger: what a tenant has used and has left."""

from __future__ import annotations

from fastapi import APIRouter

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody
from aidc.schemas_ledger import CreditView, LedgerEntryView, NotificationView
from aidc.services import ledger_views

router = APIRouter(tags=["ledger"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 404, 422)}


@router.get("/v1/credits", responses=ERRORS)
def list_credits(c: CenterDep, p: PrincipalDep, project: str | None = None) -> list[CreditView]:
    """Credit balances of the projects you may see: granted, used, remaining, until when."""
    return ledger_views.list_credits(c, p, project)


@router.get("/v1/notifications", responses=ERRORS)
def list_notifications(c: CenterDep, p: PrincipalDep, limit: int = 100) -> list[NotificationView]:
    """Notifications to your organisation (credit warnings), newest first."""
    return ledger_views.list_notifications(c, p, limit)


@router.get("/v1/ledger", responses=ERRORS)
def list_ledger(
    c: CenterDep,
    p: PrincipalDep,
    job: str | None = None,
    project: str | None = None,
    limit: int = 1000,
) -> list[LedgerEntryView]:
    """Usage ledger entries you may see (``?job=`` or ``?project=``), oldest first."""
    return ledger_views.list_ledger(c, p, job=job, project=project, limit=limit)
