"""API tokens: issued once in plain text, stored as SHA-256, checked on every request."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal, Role
from aidc.services import audit
from aidc.services.center import Center
from aidc.services.errors import NotFound, Unauthenticated
from aidc.store.models import ApiToken, Organisation, ProjectMember, User

TOKEN_PREFIX = "aidc_"
# How long a checked token is trusted without asking the database again. Revoking a token
# or changing a user's projects takes effect within this time in every API worker.
AUTH_CACHE_S = 1.0
AUTH_CACHE_MAX = 10_000


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is safe here (unlike for passwords).
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    center: Center,
    username: str,
    name: str = "cli",
    ttl_s: float | None = None,
    *,
    expires_at: float | None = None,
) -> str:
    """A new token for ``username``; the plain text is returned once and never stored.
    It expires after ``ttl_s`` seconds or at ``expires_at`` (POSIX seconds), else never."""
    now = center.clock()
    with center.db.transaction() as s:
        user = s.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            raise NotFound(f"no user called {username!r}", field="username")
        return add_token(s, user.id, name=name, now=now, ttl_s=ttl_s, expires_at=expires_at)


def add_token(
    s: Session,
    user_id: int,
    *,
    name: str,
    now: float,
    ttl_s: float | None = None,
    expires_at: float | None = None,
    actor: str | None = None,
) -> str:
    """``issue_token`` inside the caller's transaction (a new member or student and their
    first token are written together). ``ttl_s`` wins over ``expires_at``."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user_id,
        token_hash=hash_token(token),
        name=name,
        created_at=now,
        expires_at=now + ttl_s if ttl_s else expires_at,
    )
    s.add(row)
    s.flush()
    user = s.get(User, user_id)
    audit.record(
        s,
        at=now,
        actor=actor or (user.username if user else "aidc"),
        action="token.issued",
        target_kind="token",
        target=row.id,
        org_id=user.org_id if user else None,
        user=user.username if user else None,
        name=name,
        expires_at=row.expires_at,
    )
    return token


def record_login(
    center: Center,
    *,
    via: str,
    address: str,
    username: str | None,
    reason: str = "",
    ok: bool = False,
) -> None:
    """A sign-in (``aidc login`` with a token) or a failed credential check (a wrong
    password at the portal, an unknown, revoked or expired bearer token) into the
    security log; the password or token typed never goes in."""
    with center.db.transaction() as s:
        user = (
            s.scalars(select(User).where(User.username == username)).one_or_none()
            if username
            else None
        )
        audit.record(
            s,
            at=center.clock(),
            actor=username or "anonymous",
            action="login.succeeded" if ok else "login.failed",
            target_kind="user",
            target=username or "",
            org_id=user.org_id if user else None,
            via=via,
            address=address,
            reason=reason,
        )


def authenticate(center: Center, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated("missing bearer token; run `aidc login` or set AIDC_TOKEN")
    now = center.clock()
    digest = hash_token(token)
    cached = center.auth_cache.get(digest)
    if cached is not None:
        principal, expires_at, until = cached
        if now < until and (expires_at is None or now < expires_at):
            return principal
    principal, expires_at = _load(center, digest, now)
    if len(center.auth_cache) >= AUTH_CACHE_MAX:
        center.auth_cache.clear()
    center.auth_cache[digest] = (principal, expires_at, now + AUTH_CACHE_S)
    return principal


def _load(center: Center, digest: str, now: float) -> tuple[Principal, float | None]:
    # Plain columns, not ORM entities: this runs on every request the cache misses.
    with center.db.read() as s:
        row = s.execute(
            select(
                ApiToken.revoked_at,
                ApiToken.expires_at,
                User.id,
                User.username,
                User.role,
                Organisation.id,
                Organisation.name,
            )
            .join(User, User.id == ApiToken.user_id)
            .join(Organisation, Organisation.id == User.org_id)
            .where(ApiToken.token_hash == digest)
        ).one_or_none()
        if row is None:
            raise Unauthenticated("invalid token; run `aidc login` with a current token")
        revoked_at, expires_at, user_id, username, role, org_id, org_name = row
        if revoked_at is not None:
            raise Unauthenticated("this token was revoked; create a new one")
        if expires_at is not None and expires_at <= now:
            raise Unauthenticated("this token has expired; create a new one")
        projects = s.scalars(
            select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
        ).all()
        principal = Principal(
            user_id=user_id,
            username=username,
            org_id=org_id,
            org_name=org_name,
            role=Role(role),
            project_ids=frozenset(projects),
        )
        return principal, expires_at
