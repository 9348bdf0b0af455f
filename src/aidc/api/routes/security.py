"""/v1/tokens (your API tokens) and /v1/audit (the security log, center admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.params import RowId
from aidc.schemas import ErrorBody
from aidc.schemas_audit import AuditEventView, TokenCreate, TokenIssued, TokenView
from aidc.services import audit, tokens

router = APIRouter(tags=["security"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}


@router.get("/v1/tokens", responses=ERRORS)
def list_tokens(c: CenterDep, p: PrincipalDep, user: str | None = None) -> list[TokenView]:
    """Your tokens (names and dates, never the secrets); center admins: ``?user=``."""
    return tokens.list_tokens(c, p, user)


@router.post("/v1/tokens", status_code=201, responses=ERRORS)
def issue_token(body: TokenCreate, c: CenterDep, p: PrincipalDep) -> TokenIssued:
    """A new token for yourself; its secret is in this answer only."""
    return tokens.issue(c, p, body.name, body.ttl_s)


@router.delete("/v1/tokens/{token_id}", responses=ERRORS)
def revoke_token(token_id: RowId, c: CenterDep, p: PrincipalDep) -> TokenView:
    return tokens.revoke(c, p, token_id)


@router.get("/v1/audit", responses=ERRORS)
def security_log(
    c: CenterDep,
    p: PrincipalDep,
    action: str | None = None,
    actor: str | None = None,
    since: float | None = None,
    limit: Annotated[int, Query(ge=1, le=audit.LIMIT_MAX)] = 1000,
) -> list[AuditEventView]:
    """Security-relevant actions, oldest first (center admins)."""
    return audit.list_events(c, p, action=action, actor=actor, since=since, limit=limit)
