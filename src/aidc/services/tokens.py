"""A user's own API tokens: list, create (for the CLI), revoke. Only hashes are kept."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select

from aidc.core.tenancy import Principal
from aidc.services import auth
from aidc.services.center import Center
from aidc.services.errors import Invalid, NotFound
from aidc.store.models import ApiToken

NAME_MAX = 64


class TokenView(BaseModel):
    id: int
    name: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None


def list_tokens(center: Center, p: Principal) -> list[TokenView]:
    with center.db.read() as s:
        rows = s.scalars(
            select(ApiToken).where(ApiToken.user_id == p.user_id).order_by(ApiToken.id.desc())
        )
        return [
            TokenView(
                id=t.id,
                name=t.name,
                created_at=t.created_at,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
            )
            for t in rows
        ]


def create_token(center: Center, p: Principal, name: str, ttl_days: float | None) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise Invalid(f"a token's name has 1 to {NAME_MAX} characters", field="name")
    if ttl_days is not None and not 0 < ttl_days <= 3650:
        raise Invalid("days must be between 0 and 3650", field="ttl_days")
    now = center.clock()
    with center.db.transaction() as s:
        ttl_s = ttl_days * 86400.0 if ttl_days else None
        return auth.add_token(s, p.user_id, name=name, now=now, ttl_s=ttl_s)


def revoke_token(center: Center, p: Principal, token_id: int) -> None:
    now = center.clock()
    with center.db.transaction() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.user_id != p.user_id:
            raise NotFound(f"no token {token_id} of yours", field="token_id")
        if row.revoked_at is None:
            row.revoked_at = now
    center.auth_cache.clear()  # the revoked token stops working here at once
