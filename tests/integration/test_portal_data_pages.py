"""The dataset and notebook pages in-process, on both databases: the catalog and a
dataset's page with its preview, restricted data without preview or download, grants
asked and decided through CSRF-checked forms, the airlock, notebook sessions started,
opened (the proxy's login ticket) and stopped, and another organisation's pages refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from aidc import portal
from aidc.services.center import Center
from aidc.settings import Settings
from aidc.store.models import User
from tests.integration.datasets_env import DataTenants, make_dataset, upload
from tests.integration.test_portal_pages import HASH, FieldsWithoutLabel, csrf_of, logged_in

CARD = "# Roads\n<script>alert('card')</script> counts per road"


@pytest.fixture
def app(dc: Center, people: DataTenants, tmp_path: Path) -> FastAPI:
    root = people.t.root
    make_dataset(dc, root, "roads", "public", tags=["traffic"], card=CARD, licence="CC-BY-4.0")
    upload(dc, root, "roads", {"counts.csv": b"road,n\nteheran,12\njongno,7\n"})
    make_dataset(dc, root, "grid", "registered", sector="energy")
    upload(dc, root, "grid", {"load.csv": b"hour,mw\n0,512\n"})
    make_dataset(dc, root, "ehr", "restricted", sector="healthcare")
    upload(dc, root, "ehr", {"patients.csv": b"id,secret\n1,do-not-show\n"})
    with dc.db.transaction() as s:
        for user in s.scalars(select(User)):
            user.password_hash = HASH
    app = FastAPI()
    app.state.center = dc
    app.state.settings = Settings(home=tmp_path / "home", notebook_idle_s=600)
    portal.mount(app)
    return app


def test_the_catalog_filters_and_a_public_dataset_shows_its_preview(app: FastAPI) -> None:
    carol = logged_in(app, "carol")  # Beta: public data is open to every user
    r = carol.get("/portal/datasets")
    assert r.status_code == 200 and "/portal/datasets/roads" in r.text and "ehr" in r.text
    found = carol.get("/portal/datasets", params={"tag": "traffic", "tier": "public"}).text
    assert "/portal/datasets/roads" in found and "/portal/datasets/ehr" not in found
    assert "/portal/datasets/roads" not in carol.get("/portal/datasets?sector=healthcare").text
    bad = carol.get("/portal/datasets?tier=secret")
    assert bad.status_code == 422 and 'id="e-tier"' in bad.text
    page = carol.get("/portal/datasets/roads")
    assert page.status_code == 200 and "CC-BY-4.0" in page.text
    assert "<td>teheran</td>" in page.text and "counts.csv" in page.text
    # The card is the owner's text: escaped, never markup.
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
    one = carol.get("/portal/datasets/roads/preview", params={"path": "counts.csv"})
    assert one.status_code == 200 and "<td>jongno</td>" in one.text
    assert carol.get("/portal/datasets/nothing").status_code == 404
    # Registered data: rows for approved organisations (Acme), not for Beta.
    assert "<td>512</td>" not in carol.get("/portal/datasets/grid").text
    assert carol.get("/portal/datasets/grid/preview?path=load.csv").status_code == 403
    assert "<td>512</td>" in logged_in(app, "alice").get("/portal/datasets/grid").text


def test_restricted_data_has_no_preview_and_another_orgs_grant_is_not_found(
    app: FastAPI,
) -> None:
    alice = logged_in(app, "alice")
    page = alice.get("/portal/datasets/ehr")
    assert page.status_code == 200  # the card is open to all: discovery is the point
    assert "do-not-show" not in page.text and "patients.csv" not in page.text
    assert "/download" not in page.text and "/preview" not in page.text
    csrf = csrf_of(alice, "/portal/datasets/ehr")
    form = {"csrf_token": csrf, "project": "acme-a", "purpose": "sepsis model", "days": "30"}
    r = alice.post("/portal/datasets/ehr/grants", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    grant_path = r.headers["location"]
    assert re.fullmatch(r"/portal/datasets-access/grants/\d+", grant_path)
    assert "sepsis model" in alice.get(grant_path).text
    assert (
        alice.post("/portal/datasets/ehr/grants", data={**form, "csrf_token": "x"}).status_code
        == 403
    )
    carol = logged_in(app, "carol")
    assert carol.get(grant_path).status_code == 404
    assert "sepsis model" not in carol.get("/portal/datasets-access/grants").text
    r = carol.get("/portal/datasets/ehr/preview", params={"path": "patients.csv"})
    assert r.status_code == 403 and "do-not-show" not in r.text
    # Only stewards decide; a member's try is refused, a steward's approves.
    csrf_c = csrf_of(carol, "/portal/datasets")
    r = carol.post(grant_path + "/approve", data={"csrf_token": csrf_c})
    assert r.status_code == 403
    steve = logged_in(app, "steve")
    pending = steve.get("/portal/datasets-access/grants")
    assert "sepsis model" in pending.text and grant_path + "/approve" in pending.text
    csrf_s = csrf_of(steve, "/portal/datasets-access/grants")
    r = steve.post(grant_path + "/reject", data={"csrf_token": csrf_s})
    assert r.status_code == 422 and "say why" in r.text
    r = steve.post(grant_path + "/approve", data={"csrf_token": csrf_s})
    assert r.status_code == 200 and "approved" in r.text
    # Still no preview with a grant: restricted bytes stay inside jobs.
    r = alice.get("/portal/datasets/ehr/preview", params={"path": "patients.csv"})
    assert r.status_code == 403


def test_the_airlock_page_and_its_decisions(app: FastAPI) -> None:
    bob = logged_in(app, "bob")
    assert bob.get("/portal/datasets-access/airlock").status_code == 200
    csrf = csrf_of(bob, "/portal/datasets-access/airlock")
    r = bob.post(
        "/portal/datasets-access/airlock/0123456789abcdef/release", data={"csrf_token": csrf}
    )
    assert r.status_code == 403
    steve = logged_in(app, "steve")
    csrf_s = csrf_of(steve, "/portal/datasets-access/airlock")
    r = steve.post(
        "/portal/datasets-access/airlock/0123456789abcdef/release", data={"csrf_token": csrf_s}
    )
    assert r.status_code == 404
    for path in ("/portal/datasets-access/airlock/x/release", "/portal/datasets/ehr/grants"):
        assert steve.post(path, data={}).status_code == 403  # no CSRF token


def test_a_notebook_session_is_started_opened_and_stopped_only_by_its_people(
    app: FastAPI,
) -> None:
    bob = logged_in(app, "bob")
    page = bob.get("/portal/notebooks")
    assert page.status_code == 200 and 'for="f-gpus"' in page.text
    csrf = csrf_of(bob, "/portal/notebooks")
    bad = bob.post("/portal/notebooks", data={"csrf_token": csrf, "project": "acme-a", "gpus": "x"})
    assert bad.status_code == 422 and 'id="e-gpus"' in bad.text
    r = bob.post(
        "/portal/notebooks",
        data={"csrf_token": csrf, "project": "acme-a", "gpus": "0"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    session_path = r.headers["location"]
    sid = session_path.rsplit("/", 1)[1]
    shown = bob.get(session_path)
    assert shown.status_code == 200 and "acme-a" in shown.text
    assert sid in bob.get("/portal/notebooks").text
    carol = logged_in(app, "carol")
    assert carol.get(session_path).status_code == 404
    assert sid not in carol.get("/portal/notebooks").text
    csrf_c = csrf_of(carol, "/portal/notebooks")
    for action in ("stop", "restart", "open"):
        assert (
            carol.post(f"{session_path}/{action}", data={"csrf_token": csrf_c}).status_code == 404
        )
        assert bob.post(f"{session_path}/{action}", data={}).status_code == 403
    r = bob.post(f"{session_path}/open", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/sessions/{sid}/?ticket=")
    r = bob.post(f"{session_path}/stop", data={"csrf_token": csrf})
    assert r.status_code == 200 and "stopped" in r.text
    assert bob.get("/portal/environments").status_code == 200


def test_every_field_of_the_new_pages_has_a_label(app: FastAPI) -> None:
    pages = ["/portal/datasets", "/portal/datasets/roads", "/portal/datasets/ehr"]
    pages += ["/portal/datasets-access/grants", "/portal/datasets-access/airlock"]
    pages += ["/portal/notebooks", "/portal/environments"]
    for who in ("alice", "steve"):
        client = logged_in(app, who)
        for path in pages:
            r = client.get(path)
            assert r.status_code == 200, (who, path)
            parser = FieldsWithoutLabel()
            parser.feed(r.text)
            assert parser.unlabelled() == [], (who, path)
