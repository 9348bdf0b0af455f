"""The web portal's login sessions: a random cookie value whose SHA-256 is a row with the
user and the session's CSRF token. Server-side (not signed cookies) so that logout ends a
session everywhere at once, and a revoked or expired one is refused by every worker."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal, Role
from aidc.services import audit, passwords
from aidc.services.center import Center
from aidc.services.errors import Unauthenticated
from aidc.store.models import Organisation, ProjectMember, User
from aidc.store.models_portal import PortalSession

SESSION_TTL_S = 12 * 3600.0


@dataclass(frozen=True)
class LoggedIn:
    token: str  # the cookie's value, shown once
    csrf: str


@dataclass(frozen=True)
class SessionUser:
    principal: Principal
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(center: Center, username: str, password: str, *, address: str = "") -> LoggedIn:
    """A new portal session; the login goes to the security log in its transaction."""
    user_id = passwords.check_login(center, username, password)
    now = center.clock()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with center.db.transaction() as s:
        user = s.get(User, user_id)
        audit.record(s, at=now, actor=username, action="login.succeeded", target_kind="user",
                     target=username, org_id=user.org_id if user else None, via="portal",
                     address=address)  # fmt: skip
        # Ended sessions of this user go as they log in again: the table stays small.
        s.execute(
            delete(PortalSession).where(
                PortalSession.user_id == user_id,
                (PortalSession.expires_at <= now) | PortalSession.revoked_at.is_not(None),
            )
        )
        s.add(
            PortalSession(
                token_hash=_digest(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_TTL_S,
            )
        )
    return LoggedIn(token=token, csrf=csrf)


def authenticate(center: Center, token: str | None) -> SessionUser:
    if not token:
        raise Unauthenticated("please log in")
    now = center.clock()
    with center.db.read() as s:
        row = s.scalars(
            select(PortalSession).where(PortalSession.token_hash == _digest(token))
        ).one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthenticated("your session has ended; please log in again")
        return SessionUser(principal=principal_of(s, row.user_id), csrf=row.csrf_token)


def csrf_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def logout(center: Center, token: str | None) -> None:
    if not token:
        return
    now = center.clock()
    with center.db.transaction() as s:
        row = s.scalars(
            select(PortalSession).where(PortalSession.token_hash == _digest(token))
        ).one_or_none()
        if row is not None and row.revoked_at is None:
            row.revoked_at = now


def principal_of(s: Session, user_id: int) -> Principal:
    """The user as the services see them (what an API token of theirs would give)."""
    row = s.execute(
        select(User.username, User.role, Organisation.id, Organisation.name)
        .join(Organisation, Organisation.id == User.org_id)
        .where(User.id == user_id)
    ).one()
    username, role, org_id, org_name = row
    projects = s.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user_id))
    return Principal(
        user_id=user_id,
        username=username,
        org_id=org_id,
        org_name=org_name,
        role=Role(role),
        project_ids=frozenset(projects),
    )
