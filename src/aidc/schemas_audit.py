"""Response models of the security audit log and API tokens."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class AuditEventView(BaseModel):
    id: int
    at: float
    actor: str
    action: str
    target_kind: str
    target: str
    org_id: int | None
    details: dict[str, Any]


class TokenView(BaseModel):
    """A token as its owner sees it: never its secret, which is shown once when issued."""

    id: int
    name: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None


class TokenCreate(BaseModel):
    name: str = Field("cli", min_length=1, max_length=64)
    ttl_s: float | None = Field(None, gt=0, le=400 * 86400, description="Lifetime in seconds.")


class TokenIssued(TokenView):
    token: str = Field(description="The secret, shown this once.")
