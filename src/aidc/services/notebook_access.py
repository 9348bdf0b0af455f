"""Who may enter a notebook session through the proxy, and how a browser logs in.

Only the session's owner may enter it, and, if it is shared, the members of its project
(not viewers: entering a notebook runs code). Operators and organisation admins may see
and stop sessions, but not enter them. Every refusal is the same 403, for a session that
does not exist as for one the caller may not enter, so guessed ids reveal nothing.

A client sends its aidc token as a bearer header. A browser cannot, so
``POST /v1/notebooks/<id>/login`` gives a link with a ticket (valid two minutes), and
``GET /sessions/<id>/?ticket=...`` turns it into an HttpOnly cookie for the session's path
only. Tickets and cookies are HMAC-signed with the session's own key: valid for that
session and user only, and void once the session is gone.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.notebooks import SessionState
from aidc.core.tenancy import Principal, Role
from aidc.schemas_notebooks import LoginLink
from aidc.services import auth, jupyter
from aidc.services.center import Center
from aidc.services.errors import Forbidden, NotFound, Unauthenticated
from aidc.services.notebooks import can_see
from aidc.store.models import ProjectMember, User
from aidc.store.models_notebooks import NotebookRow

COOKIE = "aidc_notebook"
TICKET_TTL_S = 120.0
COOKIE_TTL_S = 12 * 3600.0
DENIED = "you may not enter this notebook session"


@dataclass(frozen=True)
class Target:
    """Where to forward an admitted request, and with which Jupyter token."""

    state: SessionState
    address: str | None
    token: str
    user_id: int


def login_link(center: Center, p: Principal, session_id: str) -> LoginLink:
    """A one-use-in-spirit link for a browser (``aidc notebook open`` prints it)."""
    now = center.clock()
    with center.db.read() as s:
        row = s.get(NotebookRow, session_id)
        if row is None:
            raise NotFound(f"no notebook session {session_id!r}", field="session_id")
        if not may_enter(s, p.user_id, row):
            if not can_see(s, p, row):
                raise NotFound(f"no notebook session {session_id!r}", field="session_id")
            raise Forbidden(DENIED)
        expires = now + TICKET_TTL_S
        ticket = _make(row.cookie_key, "ticket", session_id, p.user_id, expires)
    return LoginLink(url=f"{jupyter.base_url(session_id)}?ticket={ticket}", expires_at=expires)


def redeem(center: Center, session_id: str, ticket: str) -> tuple[str, float]:
    """The cookie value (and its lifetime) for a valid ticket; Forbidden otherwise."""
    now = center.clock()
    with center.db.read() as s:
        row = s.get(NotebookRow, session_id)
        if row is None:
            raise Forbidden(DENIED)
        user_id = _check(row.cookie_key, "ticket", session_id, ticket, now)
        if user_id is None:
            raise Forbidden("this login link is not valid or has expired; ask for a new one")
        if not may_enter(s, user_id, row):
            raise Forbidden(DENIED)
        expires = now + COOKIE_TTL_S
        return _make(row.cookie_key, "cookie", session_id, user_id, expires), COOKIE_TTL_S


def enter(center: Center, session_id: str, *, bearer: str | None, cookie: str | None) -> Target:
    """Admit a proxied request: Unauthenticated without credentials, Forbidden (one
    message for every case) unless the caller may enter this existing session."""
    if not bearer and not cookie:
        raise Unauthenticated(
            "sign in: send your aidc token as a bearer header, or open the session's link "
            "from `aidc notebook open`"
        )
    user_id = auth.authenticate(center, bearer).user_id if bearer else None
    now = center.clock()
    with center.db.read() as s:
        row = s.get(NotebookRow, session_id)
        if row is None:
            raise Forbidden(DENIED)
        if user_id is None:
            assert cookie is not None
            user_id = _check(row.cookie_key, "cookie", session_id, cookie, now)
        if user_id is None or not may_enter(s, user_id, row):
            raise Forbidden(DENIED)
        return Target(SessionState(row.state), row.address, row.jupyter_token, user_id)


def may_enter(s: Session, user_id: int, row: NotebookRow) -> bool:
    if user_id == row.user_id:
        return True
    if not row.shared:
        return False
    role = s.scalar(select(User.role).where(User.id == user_id))
    if role in (None, Role.VIEWER, Role.REVIEWER):
        return False
    member = s.get(ProjectMember, (row.project_id, user_id))
    return member is not None


def _sign(key: str, kind: str, session_id: str, user_id: int, expires: int) -> str:
    message = f"{kind}|{session_id}|{user_id}|{expires}".encode()
    return hmac.new(bytes.fromhex(key), message, hashlib.sha256).hexdigest()


def _make(key: str, kind: str, session_id: str, user_id: int, expires: float) -> str:
    until = int(expires)
    return f"{user_id}.{until}.{_sign(key, kind, session_id, user_id, until)}"


def _check(key: str, kind: str, session_id: str, value: str, now: float) -> int | None:
    """The user a ticket or cookie was made for, if it is genuine and not expired."""
    try:
        user, until, signature = value.split(".")
        user_id, expires = int(user), int(until)
    except ValueError:
        return None
    expected = _sign(key, kind, session_id, user_id, expires)
    if not hmac.compare_digest(expected, signature) or expires <= now:
        return None
    return user_id
