"""Passwords, portal sessions and a user's own API tokens, on both databases."""

from __future__ import annotations

import pytest

from aidc.services import auth, passwords, portal_sessions, tokens
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound, Unauthenticated
from tests.integration.tenants import make_tenants


def test_a_password_logs_in_and_logout_ends_the_session(center: Center) -> None:
    t = make_tenants(center)
    passwords.set_password(center, t.bob, "correct horse")
    session = portal_sessions.login(center, "bob", "correct horse")
    who = portal_sessions.authenticate(center, session.token)
    assert who.principal == t.bob
    assert who.csrf == session.csrf
    assert portal_sessions.csrf_ok(who.csrf, session.csrf)
    assert not portal_sessions.csrf_ok(who.csrf, None)
    assert not portal_sessions.csrf_ok(who.csrf, session.csrf + "x")
    portal_sessions.logout(center, session.token)
    with pytest.raises(Unauthenticated):
        portal_sessions.authenticate(center, session.token)


def test_wrong_password_unknown_user_and_no_password_read_alike(center: Center) -> None:
    t = make_tenants(center)
    passwords.set_password(center, t.bob, "correct horse")
    messages = set()
    for username, password in (("bob", "wrong"), ("nobody", "correct horse"), ("carol", "")):
        with pytest.raises(Unauthenticated) as e:
            portal_sessions.login(center, username, password)
        messages.add(str(e.value))
    assert messages == {"wrong username or password"}


def test_sessions_expire(center: Center) -> None:
    t = make_tenants(center)
    passwords.set_password(center, t.bob, "correct horse")
    session = portal_sessions.login(center, "bob", "correct horse")
    now = center.clock()
    center.clock = lambda: now + portal_sessions.SESSION_TTL_S + 1
    with pytest.raises(Unauthenticated):
        portal_sessions.authenticate(center, session.token)


def test_changing_a_password_needs_the_current_one_and_admins_set_others(center: Center) -> None:
    t = make_tenants(center)
    with pytest.raises(Invalid) as short:
        passwords.set_password(center, t.bob, "short")
    assert short.value.field == "password"
    passwords.set_password(center, t.bob, "first password")
    with pytest.raises(Invalid) as wrong:
        passwords.set_password(center, t.bob, "second password", current="not it")
    assert wrong.value.field == "current_password"
    passwords.set_password(center, t.bob, "second password", current="first password")
    with pytest.raises(Forbidden):
        passwords.set_password(center, t.alice, "alice sets bob's", username="bob")
    passwords.set_password(center, t.root, "reset by root", username="bob")
    portal_sessions.login(center, "bob", "reset by root")
    with pytest.raises(NotFound):
        passwords.set_password(center, t.root, "for nobody", username="nobody")


def test_a_user_creates_lists_and_revokes_only_their_own_tokens(center: Center) -> None:
    t = make_tenants(center)
    token = tokens.create_token(center, t.bob, "laptop", ttl_days=30)
    assert auth.authenticate(center, token) == t.bob
    mine = tokens.list_tokens(center, t.bob)
    laptop = next(x for x in mine if x.name == "laptop")
    assert laptop.expires_at is not None and laptop.revoked_at is None
    assert all(x.name != "laptop" for x in tokens.list_tokens(center, t.carol))
    with pytest.raises(NotFound):
        tokens.revoke_token(center, t.carol, laptop.id)
    tokens.revoke_token(center, t.bob, laptop.id)
    with pytest.raises(Unauthenticated):
        auth.authenticate(center, token)
    with pytest.raises(Invalid):
        tokens.create_token(center, t.bob, " ", ttl_days=None)
