"""Limits: request body size, queued jobs per user, sign-in attempts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aidc.api.app import create_app
from aidc.api.limits import SignInLimiter
from aidc.core.jobspec import JobSpec
from aidc.services import jobs
from aidc.services.center import Center
from aidc.services.errors import TooMany
from aidc.settings import Settings
from tests.integration.tenants import make_tenants


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
