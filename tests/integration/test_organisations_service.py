"""Organisations, members, roles and invitations against a real database."""

from __future__ import annotations

import pytest

from aidc.services import auth, invitations, organisations, tenancy
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from aidc.services.invitations import INVITE_TTL_S
from tests.integration.alloc_world import DAY, World, make_world


@pytest.fixture
def w(center: Center) -> World:
    return make_world(center)


def test_create_with_registration_details_and_scoped_listing(w: World) -> None:
    org = organisations.create(
        w.c, w.t.root, "Nuri Robotics", "startup", registration_number="123-45-67890",
        region="Gwangju", sector="robotics",
    )  # fmt: skip
    assert (org.kind, org.registration_number, org.region, org.sector) == (
        "startup", "123-45-67890", "Gwangju", "robotics",
    )  # fmt: skip
    uni = organisations.create(w.c, w.t.root, "Open University", "university")
    assert uni.registration_number == ""
    names = {o.name for o in organisations.list_organisations(w.c, w.rev1)}
    assert {"Acme", "Beta", "Center", "Nuri Robotics", "Open University"} <= names
    assert [o.name for o in organisations.list_organisations(w.c, w.t.bob)] == ["Acme"]
    acme = organisations.show(w.c, w.t.bob, "Acme")
    assert acme.projects == ["acme-a"] and acme.members == 4
    with pytest.raises(NotFound):
        organisations.show(w.c, w.t.carol, "Acme")


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"kind": "startup"}, "registration_number", "needs its business registration"),
        ({"kind": "sme", "registration_number": "12345"}, "registration_number", "NNN-NN-NNNNN"),
        ({"kind": "public", "registration_number": "1-2-3"}, "registration_number", "NNN"),
        ({"kind": "castle"}, "kind", "unknown organisation kind"),
        ({"kind": "public", "region": "x" * 65}, "region", "64"),
    ],
)
def test_create_names_the_field(w: World, kw: dict, field: str, words: str) -> None:
    with pytest.raises(Invalid) as e:
        organisations.create(w.c, w.t.root, "New Org", **kw)
    assert e.value.field == field and words in e.value.message
    assert "New Org" not in {o.name for o in organisations.list_organisations(w.c, w.t.root)}


def test_only_center_admins_create_and_duplicates_conflict(w: World) -> None:
    with pytest.raises(Forbidden):
        organisations.create(w.c, w.t.alice, "X", "public")
    with pytest.raises(Forbidden):
        organisations.create(w.c, w.rev1, "X", "public")
    with pytest.raises(Conflict):
        organisations.create(w.c, w.t.root, "Acme", "public")


def test_update_by_own_org_admin_or_center_admin(w: World) -> None:
    o = organisations.update(w.c, w.t.alice, "Acme", registration_number="111-22-33333",
                             region="Seoul")  # fmt: skip
    assert o.registration_number == "111-22-33333" and o.region == "Seoul" and o.sector == ""
    with pytest.raises(Invalid) as e:
        organisations.update(w.c, w.t.alice, "Acme", registration_number="nope")
    assert e.value.field == "registration_number"
    with pytest.raises(Forbidden, match="kind"):
        organisations.update(w.c, w.t.alice, "Acme", kind="sme")
    assert organisations.update(w.c, w.t.root, "Acme", kind="sme").kind == "sme"
    with pytest.raises(Forbidden):
        organisations.update(w.c, w.t.bob, "Acme", region="Busan")
    with pytest.raises(NotFound):
        organisations.update(w.c, w.beth, "Acme", region="Busan")
    with pytest.raises(Forbidden):
        organisations.update(w.c, w.rev1, "Acme", region="Busan")


def test_members_and_roles(w: World) -> None:
    members = {m.username: m for m in organisations.members(w.c, w.t.bob, "Acme")}
    assert set(members) == {"alice", "bob", "vic", "acme-rev"}
    assert members["bob"].role == "member" and members["bob"].projects == ["acme-a"]
    assert organisations.set_role(w.c, w.t.alice, "Acme", "bob", "viewer").role == "viewer"
    assert organisations.set_role(w.c, w.t.alice, "Acme", "vic", "org-admin").role == "org-admin"
    for role in ("center-admin", "reviewer"):
        with pytest.raises(Forbidden) as e:
            organisations.set_role(w.c, w.t.alice, "Acme", "bob", role)
        assert e.value.field == "role"
    with pytest.raises(Forbidden, match="your own role"):
        organisations.set_role(w.c, w.t.alice, "Acme", "alice", "member")
    with pytest.raises(Forbidden, match="only center admins change that role"):
        organisations.set_role(w.c, w.t.alice, "Acme", "acme-rev", "member")
    with pytest.raises(NotFound):
        organisations.set_role(w.c, w.t.alice, "Acme", "carol", "member")
    with pytest.raises(Forbidden):
        organisations.set_role(w.c, w.t.bob, "Acme", "vic", "member")
    with pytest.raises(NotFound):
        organisations.set_role(w.c, w.beth, "Acme", "bob", "member")
    with pytest.raises(Invalid):
        organisations.set_role(w.c, w.t.alice, "Acme", "bob", "king")


def test_invitation_accepted_once_gives_a_working_token(w: World) -> None:
    inv = invitations.invite(w.c, w.t.alice, "Acme", "dana", "member", ["acme-a"])
    assert inv.code and inv.status == "pending" and inv.expires_at == w.clock.now + INVITE_TTL_S
    assert [i.username for i in invitations.pending(w.c, w.t.alice, "Acme")] == ["dana"]
    assert all(i.code is None for i in invitations.pending(w.c, w.t.alice, "Acme"))
    with pytest.raises(Invalid, match="for the username 'dana'"):
        invitations.accept(w.c, inv.code, "mallory")
    joined = invitations.accept(w.c, inv.code, "dana")
    assert (joined.organisation, joined.role, joined.projects) == ("Acme", "member", ["acme-a"])
    dana = auth.authenticate(w.c, joined.token)
    assert dana.org_name == "Acme" and len(dana.project_ids) == 1
    with pytest.raises(Conflict, match="already used"):
        invitations.accept(w.c, inv.code, "dana")
    assert invitations.pending(w.c, w.t.alice, "Acme") == []


def test_invitation_refusals(w: World) -> None:
    with pytest.raises(NotFound, match="not valid"):
        invitations.accept(w.c, "inv_made-up", "x")
    inv = invitations.invite(w.c, w.t.alice, "Acme", "erin", "viewer", [])
    invitations.revoke(w.c, w.t.alice, inv.id)
    with pytest.raises(Conflict, match="revoked"):
        invitations.accept(w.c, inv.code or "", "erin")
    late = invitations.invite(w.c, w.t.alice, "Acme", "fred", "member", [])
    w.clock.now += 7 * DAY
    with pytest.raises(Conflict, match="expired"):
        invitations.accept(w.c, late.code or "", "fred")
    with pytest.raises(Forbidden):
        invitations.invite(w.c, w.t.bob, "Acme", "gina", "member", [])
    with pytest.raises(Forbidden) as e:
        invitations.invite(w.c, w.t.alice, "Acme", "gina", "reviewer", [])
    assert e.value.field == "role"
    with pytest.raises(NotFound) as e2:
        invitations.invite(w.c, w.t.alice, "Acme", "gina", "member", ["beta-b"])
    assert e2.value.field == "projects"
    with pytest.raises(Conflict):
        invitations.invite(w.c, w.t.alice, "Acme", "bob", "member", [])
    invitations.invite(w.c, w.t.alice, "Acme", "gina", "member", [])
    with pytest.raises(Conflict, match="pending invitation"):
        invitations.invite(w.c, w.t.alice, "Acme", "gina", "viewer", [])
    with pytest.raises(NotFound):
        invitations.revoke(w.c, w.beth, inv.id)
    with pytest.raises(NotFound):
        invitations.pending(w.c, w.beth, "Acme")


def test_center_admins_create_reviewers_by_invitation(w: World) -> None:
    with pytest.raises(Forbidden):
        invitations.invite(w.c, w.t.root, "Acme", "rev3", "reviewer", [])
    inv = invitations.invite(w.c, w.t.root, "Center", "rev3", "reviewer", [])
    joined = invitations.accept(w.c, inv.code or "", "rev3")
    assert joined.role == "reviewer" and joined.organisation == "Center"
    inv2 = invitations.invite(w.c, w.t.root, "Acme", "helen", "org-admin", ["acme-a"])
    assert invitations.accept(w.c, inv2.code or "", "helen").role == "org-admin"


def test_old_signature_of_create_organisation_still_works(w: World) -> None:
    tenancy.create_organisation(w.c, "Plain Startup", "startup")
    with pytest.raises(Invalid):
        tenancy.create_organisation(w.c, "Bad", "sme", registration_number="1")
    with pytest.raises(Unauthenticated):
        auth.authenticate(w.c, "aidc_nope")
