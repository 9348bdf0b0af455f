"""Notebook sessions in the services, on SQLite and PostgreSQL, without JupyterLab: the
interactive job they submit, who sees, stops and enters them, tickets and cookies."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aidc.core.job_states import JobState
from aidc.scheduler.snapshot import QuotaLimit
from aidc.schemas_notebooks import NotebookStart
from aidc.services import jobs, notebooks
from aidc.services import notebook_access as access
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound, Unauthenticated
from aidc.services.quota_admin import put_quota
from aidc.services.quotas import OwnerKind
from aidc.settings import Settings
from aidc.store import jobs as job_store
from aidc.store.models import Project
from aidc.store.models_notebooks import NotebookRow
from tests.integration.tenants import Tenants, make_tenants


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", notebook_idle_s=600)


def start(center: Center, settings: Settings, who, **kw: object):  # type: ignore[no-untyped-def]
    body = NotebookStart.model_validate({"project": "acme-a", "accelerators": 1, **kw})
    return notebooks.start(center, settings, who, body)


def secret(center: Center, session_id: str) -> str:
    with center.db.read() as s:
        row = s.get(NotebookRow, session_id)
        assert row is not None
        return row.jupyter_token


def test_a_session_is_an_interactive_job_whose_spec_holds_no_secret(
    center: Center, t: Tenants, settings: Settings
) -> None:
    nb = start(center, settings, t.bob)
    assert nb.state == "starting" and nb.message.startswith("queued")
    assert nb.url == f"/sessions/{nb.id}/"
    assert nb.idle_timeout_s == 600
    job = jobs.get_job(center, t.bob, nb.job_id)
    assert job.spec["priority_class"] == "interactive"
    assert job.name == f"notebook-{nb.id}"
    token = secret(center, nb.id)
    assert len(token) >= 40
    assert token not in str(job.spec)
    token_file = settings.home / "notebooks" / nb.id / "token"
    assert token_file.read_text() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "notebook_launcher.py" in job.spec["script"]
    assert f"--base-url /sessions/{nb.id}/" in job.spec["script"]


def test_other_tenants_cannot_see_stop_or_enter_a_session(
    center: Center, t: Tenants, settings: Settings
) -> None:
    nb = start(center, settings, t.bob)
    with pytest.raises(NotFound):
        notebooks.get(center, t.carol, nb.id)
    with pytest.raises(NotFound):
        notebooks.stop(center, t.carol, nb.id)
    with pytest.raises(NotFound):
        access.login_link(center, t.carol, nb.id)
    assert [n.id for n in notebooks.list_sessions(center, t.carol)] == []
    carol_token = _token(center, "carol")
    with pytest.raises(Forbidden) as denied:
        access.enter(center, nb.id, bearer=carol_token, cookie=None)
    # An id that does not exist is refused in exactly the same words.
    with pytest.raises(Forbidden) as unknown:
        access.enter(center, "0123456789abcdef", bearer=carol_token, cookie=None)
    assert str(denied.value) == str(unknown.value)
    with pytest.raises(Unauthenticated):
        access.enter(center, nb.id, bearer=None, cookie=None)
    bob = access.enter(center, nb.id, bearer=_token(center, "bob"), cookie=None)
    assert bob.token == secret(center, nb.id) and bob.state == "starting"


def test_org_admins_see_and_stop_but_only_the_owner_enters_a_private_session(
    center: Center, t: Tenants, settings: Settings
) -> None:
    nb = start(center, settings, t.bob)
    assert notebooks.get(center, t.alice, nb.id).id == nb.id
    assert notebooks.get(center, t.root, nb.id).id == nb.id
    for who in ("alice", "root", "vic"):
        with pytest.raises(Forbidden):
            access.enter(center, nb.id, bearer=_token(center, who), cookie=None)
    with pytest.raises(NotFound):  # a project member, but the session is not shared
        notebooks.get(center, t.vic, nb.id)
    stopped = notebooks.stop(center, t.alice, nb.id)
    assert stopped.state == "stopped" and stopped.message == "stopped by alice"
    assert jobs.get_job(center, t.bob, nb.job_id).state is JobState.CANCELLED


def test_a_shared_session_admits_project_members_but_not_viewers(
    center: Center, t: Tenants, settings: Settings
) -> None:
    nb = start(center, settings, t.bob, shared=True)
    private = start(center, settings, t.bob)
    assert [n.id for n in notebooks.list_sessions(center, t.vic)] == [nb.id]
    assert {n.id for n in notebooks.list_sessions(center, t.alice)} == {nb.id, private.id}
    assert {n.id for n in notebooks.list_sessions(center, t.root)} == {nb.id, private.id}
    assert notebooks.list_sessions(center, t.carol) == []
    assert access.enter(center, nb.id, bearer=_token(center, "alice"), cookie=None).user_id
    assert notebooks.get(center, t.vic, nb.id).shared
    with pytest.raises(Forbidden):
        access.enter(center, nb.id, bearer=_token(center, "vic"), cookie=None)
    with pytest.raises(Forbidden):
        access.enter(center, nb.id, bearer=_token(center, "carol"), cookie=None)
    with pytest.raises(Forbidden):
        notebooks.restart(center, settings, t.alice, nb.id)  # only the owner restarts


def test_login_tickets_become_cookies_for_one_session_and_user_only(
    center: Center, t: Tenants, settings: Settings
) -> None:
    now = [1_800_000_000.0]
    center.clock = lambda: now[0]
    nb = start(center, settings, t.bob)
    other = start(center, settings, t.bob)
    link = access.login_link(center, t.bob, nb.id)
    ticket = link.url.split("ticket=", 1)[1]
    cookie, max_age = access.redeem(center, nb.id, ticket)
    assert max_age == access.COOKIE_TTL_S
    assert access.enter(center, nb.id, bearer=None, cookie=cookie).user_id == t.bob.user_id
    for wrong_session, value in (
        (other.id, cookie),  # another session's key
        (nb.id, ticket),  # a ticket is no cookie
        (nb.id, cookie[:-1] + ("0" if cookie[-1] != "0" else "1")),  # tampered
        (nb.id, "garbage"),
    ):
        with pytest.raises(Forbidden):
            access.enter(center, wrong_session, bearer=None, cookie=value)
    with pytest.raises(Forbidden):
        access.redeem(center, other.id, ticket)
    now[0] += access.TICKET_TTL_S + 1
    with pytest.raises(Forbidden):
        access.redeem(center, nb.id, ticket)
    now[0] += access.COOKIE_TTL_S
    with pytest.raises(Forbidden):
        access.enter(center, nb.id, bearer=None, cookie=cookie)


def test_a_restart_runs_a_new_job_with_a_new_token_under_the_same_id(
    center: Center, t: Tenants, settings: Settings
) -> None:
    nb = start(center, settings, t.bob)
    before = secret(center, nb.id)
    again = notebooks.restart(center, settings, t.bob, nb.id)
    assert again.id == nb.id and again.restarts == 1 and again.previous_jobs == [nb.job_id]
    assert again.job_id != nb.job_id and again.state == "starting"
    assert secret(center, nb.id) != before
    assert jobs.get_job(center, t.bob, nb.job_id).state is JobState.CANCELLED


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"datasets": ["a b"]}, "datasets"),
        ({"idle_timeout_s": 601}, "idle_timeout_s"),
        ({"accelerator_type": "z100"}, "accelerator_type"),
        ({"environment": "nope"}, "environment"),
        ({"project": "beta-b"}, "project"),
    ],
)
def test_bad_requests_name_the_field_and_leave_nothing_behind(
    center: Center, t: Tenants, settings: Settings, fields: dict, field: str
) -> None:
    with pytest.raises(Invalid) as e:
        start(center, settings, t.bob, **fields)
    assert field in {f for f, _ in e.value.fields}, e.value.fields
    assert notebooks.list_sessions(center, t.root) == []
    assert not any((settings.home / "notebooks").glob("*"))


def test_interactive_sessions_stay_within_nominal_quota(
    center: Center, t: Tenants, settings: Settings
) -> None:
    with center.db.transaction() as s:
        project = s.query(Project).filter_by(name="acme-a").one()
        put_quota(s, OwnerKind.PROJECT, project.id, "a100", QuotaLimit(nominal=1), at=0.0)
    with pytest.raises(Invalid) as e:
        start(center, settings, t.bob, accelerators=2, accelerator_type="a100")
    assert e.value.field == "priority_class"
    assert start(center, settings, t.bob, accelerator_type="a100").state == "starting"


def test_a_stopped_job_stops_its_session_in_every_view(
    center: Center, t: Tenants, settings: Settings
) -> None:
    nb = start(center, settings, t.bob)
    jobs.cancel_job(center, t.bob, nb.job_id)  # the job ends by other means than stop
    assert notebooks.get(center, t.bob, nb.id).state == "stopped"
    with center.db.read() as s:
        assert job_store.get(s, nb.job_id).state == JobState.CANCELLED  # type: ignore[union-attr]


def _token(center: Center, username: str) -> str:
    from aidc.services import auth

    return auth.issue_token(center, username)
