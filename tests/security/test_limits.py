"""Limits: request body size, queued jobs per user, sign-in attempts, failed passwords
and bearer tokens (rate limited per address, and in the security log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aidc.api.app import create_app
from aidc.api.limits import SignInLimiter
from aidc.core.jobspec import JobSpec
from aidc.services import audit, auth, jobs, passwords
from aidc.services.center import Center
from aidc.services.errors import TooMany
from aidc.settings import Settings
from tests.integration.tenants import make_tenants

PASSWORD = "limits test password"


@pytest.fixture
def client(center: Center, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=tmp_path / "api", max_body_bytes=4096))
    app.state.center = center
    yield TestClient(app)


def test_a_body_over_the_limit_gets_413_naming_the_setting(client: TestClient) -> None:
    r = client.post("/v1/invitations/accept", content=b"x" * 5000)
    assert r.status_code == 413
    assert r.json()["error"] == "too_large"
    assert "AIDC_MAX_BODY_BYTES" in r.json()["message"]


def test_a_chunked_body_over_the_limit_gets_413_too(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    r = client.post(
        "/v1/invitations/accept", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text


def test_a_body_under_the_limit_reaches_the_route(client: TestClient) -> None:
    r = client.post("/v1/invitations/accept", json={"code": "nope", "username": "ann"})
    assert r.status_code == 404, r.text


def test_queued_jobs_per_user_are_capped_and_the_answer_names_the_limit(center: Center) -> None:
    t = make_tenants(center)
    center.max_queued_per_user = 2
    spec = JobSpec(project="acme-a", command=["true"])
    for _ in range(2):
        jobs.submit(center, t.bob, spec)
    with pytest.raises(TooMany, match="AIDC_MAX_QUEUED_PER_USER") as e:
        jobs.submit(center, t.bob, spec)
    assert e.value.field == "limit"
    jobs.submit(center, t.alice, spec)  # another user of the same project is not held back
    jobs.cancel_job(center, t.bob, jobs.list_jobs(center, t.bob, user="bob")[0].id)
    jobs.submit(center, t.bob, spec)  # a cancelled job frees its place


def test_sign_in_attempts_are_limited_per_username_and_address(client: TestClient) -> None:
    body = {"code": "wrong", "username": "mallory"}
    answers = [client.post("/v1/invitations/accept", json=body).status_code for _ in range(12)]
    assert answers[:10] == [404] * 10
    assert answers[10:] == [429, 429]
    r = client.post("/v1/invitations/accept", json=body)
    assert r.json()["error"] == "too_many" and "mallory" in r.json()["message"]
    other = client.post("/v1/invitations/accept", json={"code": "wrong", "username": "eve"})
    assert other.status_code == 404  # another username has its own window


def test_the_sign_in_window_slides() -> None:
    now = [0.0]
    limiter = SignInLimiter(attempts=2, window_s=10.0, clock=lambda: now[0])
    limiter.check("u", "1.2.3.4")
    now[0] = 5.0
    limiter.check("u", "1.2.3.4")
    with pytest.raises(TooMany):
        limiter.check("u", "1.2.3.4")
    limiter.check("u", "5.6.7.8")  # another address
    now[0] = 10.5  # the first attempt left the window
    limiter.check("u", "1.2.3.4")
    with pytest.raises(TooMany):
        limiter.check("u", "1.2.3.4")


def test_failed_bearer_tokens_are_limited_per_address_and_logged(
    client: TestClient, center: Center
) -> None:
    t = make_tenants(center)
    good = auth.issue_token(center, "bob")
    known = auth.issue_token(center, "alice")
    assert client.get("/v1/whoami", headers={"Authorization": f"Bearer {known}"}).is_success
    for _ in range(3):  # no token at all is no guess: it counts for nothing
        assert client.get("/v1/whoami").status_code == 401
    bad = {"Authorization": "Bearer aidc_not-a-real-token"}
    answers = [client.get("/v1/whoami", headers=bad).status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]
    r = client.get("/v1/whoami", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 429  # the address is held back, whatever it sends now
    assert r.json()["error"] == "too_many" and "aidc token" in r.json()["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # A token that worked from this address before still does (a shared login node).
    assert client.get("/v1/whoami", headers={"Authorization": f"Bearer {known}"}).is_success
    events = audit.list_events(center, t.root, action="login.failed")
    assert len(events) == 10
    assert all(e.details["via"] == "token" and e.details["address"] for e in events)
    assert all("not-a-real-token" not in str(e.details) for e in events)
    client.app.state.sign_in = SignInLimiter()  # type: ignore[attr-defined]
    assert client.get("/v1/whoami", headers={"Authorization": f"Bearer {good}"}).is_success


def test_aidc_login_with_a_token_is_logged(client: TestClient, center: Center) -> None:
    t = make_tenants(center)
    good = auth.issue_token(center, "bob")
    r = client.get("/v1/whoami?login=true", headers={"Authorization": f"Bearer {good}"})
    assert r.status_code == 200, r.text
    client.get("/v1/whoami", headers={"Authorization": f"Bearer {good}"})  # not a login
    events = audit.list_events(center, t.root, action="login.succeeded")
    assert [(e.actor, e.details["via"]) for e in events] == [("bob", "token")]
    assert good not in str(events[0].details)


def test_portal_logins_are_limited_per_address_and_logged(
    client: TestClient, center: Center
) -> None:
    t = make_tenants(center)
    passwords.set_password(center, t.bob, PASSWORD)
    wrong = {"username": "bob", "password": "not it"}
    answers = [client.post("/portal/login", data=wrong).status_code for _ in range(10)]
    assert answers == [401] * 10
    r = client.post("/portal/login", data={"username": "bob", "password": PASSWORD})
    assert r.status_code == 429  # even the right password, until the window has room
    assert "Too many failed logins" in r.text and 'name="password"' in r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    failed = audit.list_events(center, t.root, action="login.failed")
    assert len(failed) == 10
    assert {(e.target, e.details["via"]) for e in failed} == {("bob", "portal")}
    assert all("not it" not in str(e.details) for e in failed)
    client.app.state.sign_in = SignInLimiter()  # type: ignore[attr-defined]
    ok = {"username": "bob", "password": PASSWORD}
    assert client.post("/portal/login", data=ok, follow_redirects=False).status_code == 303
    done = audit.list_events(center, t.root, action="login.succeeded")
    assert [(e.actor, e.details["via"]) for e in done] == [("bob", "portal")]


def test_only_failures_fill_the_failed_check_window() -> None:
    now = [0.0]
    limiter = SignInLimiter(attempts=2, window_s=10.0, clock=lambda: now[0])
    for _ in range(5):
        limiter.allow("token", "1.2.3.4", "tokens", "")  # checks that passed: not counted
    limiter.failed("token", "1.2.3.4")
    now[0] = 5.0
    limiter.failed("token", "1.2.3.4")
    with pytest.raises(TooMany) as e:
        limiter.allow("token", "1.2.3.4", "tokens", " (fix)")
    assert e.value.retry_after_s == pytest.approx(5.0) and "(fix)" in e.value.message
    limiter.allow("token", "5.6.7.8", "tokens", "")  # another address
    limiter.allow("portal", "1.2.3.4", "logins", "")  # another kind of check
    now[0] = 10.5  # the first failure left the window
    limiter.allow("token", "1.2.3.4", "tokens", "")


def test_a_version_in_non_ascii_digits_is_a_422_not_a_500(
    client: TestClient, center: Center
) -> None:
    # make fuzz found it: '²'.isdigit() is true, int('²') raises.
    make_tenants(center)
    token = auth.issue_token(center, "bob")
    r = client.get(
        "/v1/datasets/x/versions/%C2%B2/archive", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "version", r.text


def test_a_file_size_beyond_a_petabyte_is_a_422_not_a_database_overflow(
    client: TestClient, center: Center
) -> None:
    # make fuzz found it: a size of 2**63 overflowed SQLite's INTEGER (a 500).
    make_tenants(center)
    token = auth.issue_token(center, "root")
    r = client.post(
        "/v1/datasets/body/uploads",
        json={"files": [{"path": "0", "size": 2**63}]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422 and "size" in r.json()["fields"][0]["field"], r.text
