"""The portal's pages in-process (FastAPI's TestClient) on both databases: session cookie
flags, CSRF on every form, labels on every field, tenant scoping, no open redirects."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from aidc import portal
from aidc.core.jobspec import JobSpec
from aidc.services import jobs, passwords
from aidc.services.center import Center
from aidc.settings import Settings
from aidc.store.models import User
from tests.integration.tenants import Tenants, make_tenants

PASSWORD = "portal test password"
HASH = passwords.hash_password(PASSWORD)


@pytest.fixture
def world(center: Center, tmp_path: Path) -> tuple[Tenants, FastAPI]:
    t = make_tenants(center)
    with center.db.transaction() as s:  # one (slow on purpose) hash for all of them
        for user in s.scalars(select(User)):
            user.password_hash = HASH
    app = FastAPI()
    app.state.center = center
    app.state.settings = Settings(home=tmp_path / "home")
    portal.mount(app)
    return t, app


def logged_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    r = client.post(
        "/portal/login",
        data={"username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def csrf_of(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


class FieldsWithoutLabel(HTMLParser):
    """Collects form fields (not hidden) that neither a <label for> nor aria-label names."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        field = tag in ("input", "select", "textarea") and a.get("type") != "hidden"
        if field and not a.get("aria-label"):
            self.fields.append((str(a.get("id") or ""), str(a.get("name"))))

    def unlabelled(self) -> list[str]:
        return [name for id_, name in self.fields if id_ not in self.labels]


def test_the_session_cookie_is_httponly_and_samesite(world: tuple[Tenants, FastAPI]) -> None:
    _, app = world
    client = TestClient(app)
    r = client.post(
        "/portal/login", data={"username": "bob", "password": PASSWORD}, follow_redirects=False
    )
    cookie = r.headers["set-cookie"].lower()
    assert "aidc_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "default-src 'self'" in client.get("/portal/").headers["content-security-policy"]
    bad = client.post("/portal/login", data={"username": "bob", "password": "nope"})
    assert bad.status_code == 401


def test_every_form_post_needs_the_csrf_token(world: tuple[Tenants, FastAPI]) -> None:
    _, app = world
    client = logged_in(app, "alice")
    for path in (
        "/portal/jobs",
        "/portal/logout",
        "/portal/account/tokens",
        "/portal/account/password",
        "/portal/allocations",
        "/portal/org/members/bob/role",
    ):
        for token in (None, "forged"):
            data = {"csrf_token": token} if token else {}
            r = client.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403, (path, token)
    csrf = csrf_of(client, "/portal/account")
    r = client.post("/portal/account/tokens", data={"csrf_token": csrf, "name": "cli"})
    assert r.status_code == 201 and "aidc_" in r.text
    # A page of another site posting, even with a token: refused by its Origin.
    for path in ("/portal/account/tokens", "/portal/login"):
        r = client.post(
            path,
            data={"csrf_token": csrf, "name": "cli", "username": "bob", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403, path
    own = {"Origin": "http://testserver"}
    r = client.post("/portal/account/tokens", data={"csrf_token": csrf, "name": "x"}, headers=own)
    assert r.status_code == 201


def test_every_field_of_every_page_has_a_label(world: tuple[Tenants, FastAPI]) -> None:
    _, app = world
    pages = ["/portal/", "/portal/jobs/new", "/portal/account", "/portal/org"]
    pages += ["/portal/allocations", "/portal/allocations/new"]
    pages += ["/portal/ops/cluster", "/portal/ops/queue", "/portal/ops/reviews"]
    pages += ["/portal/ops/utilisation", "/portal/ops/simulations"]
    client = logged_in(app, "root")
    anonymous = TestClient(app).get("/portal/login")
    for path, r in [("/portal/login", anonymous), *((p, client.get(p)) for p in pages)]:
        assert r.status_code == 200, path
        parser = FieldsWithoutLabel()
        parser.feed(r.text)
        assert parser.unlabelled() == [], path
        assert 'class="skip-link"' in r.text and 'id="main"' in r.text, path
    assert client.get("/portal/ops/simulations/0123abcd/report").status_code == 404


def test_the_form_shows_the_apis_messages(world: tuple[Tenants, FastAPI]) -> None:
    _, app = world
    client = logged_in(app, "bob")
    csrf = csrf_of(client, "/portal/jobs/new")
    r = client.post(
        "/portal/jobs",
        data={"csrf_token": csrf, "project": "beta-b", "command": "true", "cpus": "2"},
    )
    assert r.status_code == 422
    assert "no project &#39;beta-b&#39; that you can submit to" in r.text
    r = client.post(
        "/portal/jobs",
        data={"csrf_token": csrf, "project": "acme-a", "command": "true", "memory_mib": "lots"},
    )
    assert r.status_code == 422 and 'id="e-memory_mib"' in r.text
    r = client.post(
        "/portal/jobs",
        data={"csrf_token": csrf, "project": "acme-a", "command": "echo hi"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and re.search(r"/portal/jobs/[0-9a-f]{16}$", r.headers["location"])


def test_another_organisations_job_is_not_found(
    world: tuple[Tenants, FastAPI], center: Center
) -> None:
    t, app = world
    job = jobs.submit(center, t.bob, JobSpec(project="acme-a", command=["true"]))
    carol = logged_in(app, "carol")
    for path in ("", "/status", "/log"):
        assert carol.get(f"/portal/jobs/{job.id}{path}").status_code == 404
    csrf = csrf_of(carol, "/portal/jobs/new")
    r = carol.post(f"/portal/jobs/{job.id}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 404
    assert carol.get("/portal/ops/cluster").status_code == 403
    assert logged_in(app, "alice").get(f"/portal/jobs/{job.id}").status_code == 200


def test_login_redirects_only_into_the_portal(world: tuple[Tenants, FastAPI]) -> None:
    _, app = world
    client = TestClient(app)
    assert client.get("/portal/jobs/new", follow_redirects=False).headers["location"] == (
        "/portal/login?next=/portal/jobs/new"
    )
    for target, expected in (
        ("/portal/account", "/portal/account"),
        ("https://evil.example/", "/portal/"),
        ("/portal//evil.example", "/portal/"),
    ):
        r = client.post(
            "/portal/login",
            data={"username": "bob", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected


def test_after_logout_pages_and_polls_go_to_the_login_form(
    world: tuple[Tenants, FastAPI], center: Center
) -> None:
    t, app = world
    job = jobs.submit(center, t.bob, JobSpec(project="acme-a", command=["true"]))
    bob = logged_in(app, "bob")
    assert bob.get(f"/portal/jobs/{job.id}").status_code == 200
    csrf = csrf_of(bob, "/portal/")
    assert bob.post("/portal/logout", data={"csrf_token": csrf}).url.path == "/portal/login"
    poll = bob.get(f"/portal/jobs/{job.id}/log", headers={"HX-Request": "true"})
    assert poll.status_code == 401
    assert poll.headers["HX-Redirect"].startswith("/portal/login?next=")
    page = bob.get(f"/portal/jobs/{job.id}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/portal/login")


def test_an_org_admin_changes_a_role_and_requests_with_field_errors(
    world: tuple[Tenants, FastAPI],
) -> None:
    _, app = world
    alice = logged_in(app, "alice")
    csrf = csrf_of(alice, "/portal/org")
    r = alice.post("/portal/org/members/bob/role", data={"csrf_token": csrf, "role": "viewer"})
    assert r.status_code == 200
    assert re.search(r'<option value="viewer" selected>viewer</option>', r.text)
    # A member may not change roles: the service's refusal, as a page.
    carol = logged_in(app, "carol")
    csrf_c = csrf_of(carol, "/portal/")
    r = carol.post("/portal/org/members/bob/role", data={"csrf_token": csrf_c, "role": "member"})
    assert r.status_code == 403 and "only the organisation&#39;s admins" in r.text
    r = alice.post(
        "/portal/allocations",
        data={"csrf_token": csrf, "project": "acme-a", "program": "none", "hours": "ten"},
    )
    assert r.status_code == 422 and 'id="e-hours"' in r.text and "must be a number" in r.text
