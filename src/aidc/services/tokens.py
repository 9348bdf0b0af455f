"""A user's own API tokens: list, issue, revoke (center admins: anyone's, by ``user``).

The secret is shown once when issued; listings show names and dates only. Revocation
takes effect within ``auth.AUTH_CACHE_S`` in every API worker.
"""

from __future__ import annotations

from sqlalchemy import select

from aidc.core.tenancy import Principal
from aidc.schemas_audit import TokenIssued, TokenView
from aidc.services import audit, auth
from aidc.services.center import Center
from aidc.services.errors import Conflict, Invalid, NotFound
from aidc.store.models import ApiToken, User


def _view(t: ApiToken) -> TokenView:
    return TokenView(
        id=t.id,
        name=t.name,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
    )


def _owner_id(center: Center, p: Principal, user: str | None) -> int:
    if user is None or user == p.username:
        return p.user_id
    with center.db.read() as s:
        uid = s.scalar(select(User.id).where(User.username == user))
    if uid is None or not p.is_center_admin:
        raise NotFound(f"no user called {user!r}", field="user")
    return uid


def list_tokens(center: Center, p: Principal, user: str | None = None) -> list[TokenView]:
    owner = _owner_id(center, p, user)
    with center.db.read() as s:
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == owner).order_by(ApiToken.id))
        return [_view(t) for t in rows]


def issue(center: Center, p: Principal, name: str, ttl_s: float | None) -> TokenIssued:
    """A new token for the caller (a token issues tokens only for its own user)."""
    now = center.clock()
    with center.db.transaction() as s:
        secret = auth.add_token(s, p.user_id, name=name, now=now, ttl_s=ttl_s, actor=p.username)
        t = s.scalars(select(ApiToken).where(ApiToken.token_hash == auth.hash_token(secret))).one()
        return TokenIssued(**_view(t).model_dump(), token=secret)


def revoke(center: Center, p: Principal, token_id: int) -> TokenView:
    """Revoke one of the caller's tokens (center admins: anyone's); another's is not found."""
    now = center.clock()
    with center.db.transaction() as s:
        t = s.get(ApiToken, token_id, with_for_update=True)
        if t is None or not (p.is_center_admin or t.user_id == p.user_id):
            raise NotFound(f"no token {token_id}", field="token_id")
        if t.revoked_at is not None:
            raise Conflict(f"token {token_id} was already revoked", field="token_id")
        t.revoked_at = now
        owner = s.get(User, t.user_id)
        audit.record(
            s,
            at=now,
            actor=p.username,
            action="token.revoked",
            target_kind="token",
            target=t.id,
            org_id=owner.org_id if owner else None,
            user=owner.username if owner else None,
            name=t.name,
        )
        view = _view(t)
    center.auth_cache.clear()  # this worker at once; the others within AUTH_CACHE_S
    return view


# -- the portal's account page ------------------------------------------------------------

NAME_MAX = 64


def create_token(center: Center, p: Principal, name: str, ttl_days: float | None) -> str:
    """``issue`` from a form: the name and the days checked; the secret, shown once."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise Invalid(f"a token's name has 1 to {NAME_MAX} characters", field="name")
    if ttl_days is not None and not 0 < ttl_days <= 3650:
        raise Invalid("days must be between 0 and 3650", field="ttl_days")
    return issue(center, p, name, ttl_days * 86400.0 if ttl_days else None).token


def revoke_token(center: Center, p: Principal, token_id: int) -> None:
    """``revoke`` for the caller's own tokens only (the portal manages no one else's)."""
    with center.db.read() as s:
        t = s.get(ApiToken, token_id)
    if t is None or t.user_id != p.user_id:
        raise NotFound(f"no token {token_id} of yours", field="token_id")
    revoke(center, p, token_id)
