"""Passwords for the web portal's login: argon2id hashes (argon2-cffi's defaults, RFC 9106's
low-memory profile), never the password itself. API tokens stay the CLI's credential."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from aidc.core.tenancy import Principal
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound, Unauthenticated
from aidc.store.models import User

MIN_LENGTH = 8
MAX_LENGTH = 1024
_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong username costs as much
# time as a wrong password and the answer does not tell which one it was.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(f"a password needs at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise Invalid(f"a password may have at most {MAX_LENGTH} characters", field="password")


def verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_login(center: Center, username: str, password: str) -> int:
    """The user's id if ``password`` is theirs; one message for every way it can fail."""
    with center.db.read() as s:
        row = s.execute(
            select(User.id, User.password_hash).where(User.username == username)
        ).one_or_none()
    user_id, stored = row if row is not None else (None, None)
    if not verify(stored, password) or user_id is None:
        raise Unauthenticated("wrong username or password")
    return int(user_id)


def set_password(
    center: Center,
    p: Principal,
    password: str,
    *,
    username: str | None = None,
    current: str | None = None,
) -> None:
    """Set the caller's password (``current`` must match one already set), or, for a center
    admin, any user's (``username``)."""
    check_new(password)
    target = username or p.username
    if target != p.username and not p.is_center_admin:
        raise Forbidden("only center admins set other users' passwords")
    new_hash = hash_password(password)
    with center.db.transaction() as s:
        user = s.scalars(select(User).where(User.username == target)).one_or_none()
        if user is None:
            raise NotFound(f"no user called {target!r}", field="username")
        own = target == p.username and user.password_hash is not None
        if own and not verify(user.password_hash, current or ""):
            raise Invalid("the current password is not right", field="current_password")
        user.password_hash = new_hash
