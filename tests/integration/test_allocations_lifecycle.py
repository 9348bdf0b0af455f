"""Every step of an allocation's life against a real database, and what a grant does."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from aidc.services import allocation_review, allocation_views, allocations, grants, programs
from aidc.services.center import Center
from aidc.services.quotas import quota_tree
from aidc.store.models_allocations import CreditAccount
from tests.integration.alloc_world import DAY, T0, World, make_world


@pytest.fixture
def w(center: Center) -> World:
    return make_world(center)


def a100_quota(c: Center, project: str = "acme-a") -> float | None:
    with c.db.read() as s:
        node = next(n for n in quota_tree(s).projects if n.name == project)
        limit = node.limits.get("a100")
        return None if limit is None else limit.nominal


def accounts(c: Center, allocation_id: int) -> dict[str, tuple[float, float]]:
    with c.db.read() as s:
        rows = s.scalars(select(CreditAccount).where(CreditAccount.allocation_id == allocation_id))
        return {r.resource: (r.granted_hours, r.ends_at) for r in rows}


def actions(w: World, allocation_id: int) -> list[tuple[str, str, str | None, str]]:
    return [
        (e.actor, e.action, e.from_state, e.to_state)
        for e in allocation_views.history(w.c, w.t.root, allocation_id)
    ]


def test_request_ask_changes_resubmit_approve_activates(w: World) -> None:
    a = w.request()
    assert a.state == "requested" and a.kind == "new" and a.requested_by == "alice"
    assert a.required_approvals == 1 and a.approvals == []
    allocation_review.ask_changes(w.c, w.rev1, a.id, "say which datasets")
    allocations.comment(w.c, w.t.alice, a.id, "the road-scenes set")
    allocations.comment(w.c, w.rev1, a.id, "thanks")
    b = allocations.resubmit(
        w.c, w.t.alice, a.id, reason="datasets named", justification="detector on road-scenes",
        hours={"a100": 1500.0},
    )  # fmt: skip
    assert b.state == "requested" and b.requested_hours == {"a100": 1500.0}
    assert a100_quota(w.c) is None  # nothing granted yet
    g = allocation_review.approve(w.c, w.rev1, a.id, hours={"a100": 1200.0}, reason="ok")
    # Its start date has come, so the approval activates it: credits and quota at once.
    assert g.state == "active" and g.granted_hours == {"a100": 1200.0}
    assert g.granted_quota == {"a100": 2.0} and g.granted_storage_gb == 100.0
    assert accounts(w.c, a.id) == {"a100": (1200.0, T0 + 90 * DAY)}
    assert a100_quota(w.c) == 2.0
    assert actions(w, a.id) == [
        ("alice", "request", None, "requested"),
        ("rev1", "ask-changes", "requested", "changes-requested"),
        ("alice", "comment", "changes-requested", "changes-requested"),
        ("rev1", "comment", "changes-requested", "changes-requested"),
        ("alice", "resubmit", "changes-requested", "requested"),
        ("rev1", "approve", "requested", "approved"),
        ("rev1", "activate", "approved", "active"),
    ]
    view = programs.show(w.c, w.t.alice, w.program)
    assert view.granted_hours["a100"] == 1200.0 and view.remaining_hours["a100"] == 3800.0
    assert view.granted_storage_gb == 100.0


def test_expiry_removes_the_quota_and_ends_the_credits(w: World) -> None:
    a = w.request(ends_at=T0 + 10 * DAY)
    allocation_review.approve(w.c, w.rev1, a.id)
    assert a100_quota(w.c) == 2.0
    with w.c.db.transaction() as s:
        assert grants.advance(s, T0 + 5 * DAY) == []
    with w.c.db.transaction() as s:
        assert grants.advance(s, T0 + 10 * DAY) == [a.id]
    assert allocation_views.show(w.c, w.t.alice, a.id).state == "expired"
    assert a100_quota(w.c) == 0.0
    assert accounts(w.c, a.id)["a100"][1] == T0 + 10 * DAY


def test_future_start_is_approved_then_activated_by_the_calendar(w: World) -> None:
    a = w.request(starts_at=T0 + 30 * DAY)
    assert allocation_review.approve(w.c, w.rev1, a.id).state == "approved"
    assert a100_quota(w.c) is None and accounts(w.c, a.id) == {}
    with w.c.db.transaction() as s:
        assert grants.advance(s, T0 + 30 * DAY) == [a.id]
    assert allocation_views.show(w.c, w.rev1, a.id).state == "active"
    assert a100_quota(w.c) == 2.0 and accounts(w.c, a.id)["a100"][0] == 1000.0


def test_required_approvals_need_distinct_reviewers_and_grant_the_least(
    center: Center,
) -> None:
    w = make_world(center, rules={"required_approvals": 2})
    a = w.request()
    one = allocation_review.approve(w.c, w.rev1, a.id, hours={"a100": 800.0})
    assert one.state == "requested" and one.approvals == ["rev1"]
    from aidc.services.errors import Conflict

    with pytest.raises(Conflict, match="already approved"):
        allocation_review.approve(w.c, w.rev1, a.id)
    two = allocation_review.approve(w.c, w.t.root, a.id, hours={"a100": 900.0}, quota={"a100": 1})
    assert two.state == "active"
    assert two.granted_hours == {"a100": 800.0} and two.granted_quota == {"a100": 1.0}
    assert a100_quota(w.c) == 1.0
    assert [x[1] for x in actions(w, a.id)] == ["request", "approve", "approve", "activate"]


def test_asking_for_changes_starts_the_approvals_again(center: Center) -> None:
    w = make_world(center, rules={"required_approvals": 2})
    a = w.request()
    allocation_review.approve(w.c, w.rev1, a.id)
    allocation_review.ask_changes(w.c, w.rev2, a.id, "less storage")
    allocations.resubmit(w.c, w.t.alice, a.id, storage_gb=10.0)
    again = allocation_review.approve(w.c, w.rev2, a.id)
    assert again.state == "requested" and again.approvals == ["rev2"]
    assert allocation_review.approve(w.c, w.rev1, a.id).state == "active"


def test_reject_and_withdraw(w: World) -> None:
    a = w.request()
    assert allocation_review.reject(w.c, w.rev1, a.id, "out of scope").state == "rejected"
    b = w.request()
    allocation_review.ask_changes(w.c, w.rev1, b.id, "more detail")
    assert allocation_review.reject(w.c, w.rev2, b.id, "no answer").state == "rejected"
    d = w.request()
    assert allocations.withdraw(w.c, w.t.alice, d.id, "not needed").state == "withdrawn"
    e = w.request()
    allocation_review.ask_changes(w.c, w.rev1, e.id, "more detail")
    assert allocations.withdraw(w.c, w.t.alice, e.id).state == "withdrawn"
    assert actions(w, d.id)[-1] == ("alice", "withdraw", "requested", "withdrawn")


def test_renewal_of_an_active_and_of_an_expired_allocation(w: World) -> None:
    a = w.request(ends_at=T0 + 60 * DAY)
    allocation_review.approve(w.c, w.rev1, a.id)
    r = allocations.renew(
        w.c, w.t.alice, a.id, justification="year two", hours={"a100": 500.0},
        quota={"a100": 1}, starts_at=T0 + 60 * DAY, ends_at=T0 + 120 * DAY,
    )  # fmt: skip
    assert r.kind == "renewal" and r.parent_id == a.id and r.state == "requested"
    assert allocation_review.approve(w.c, w.rev1, r.id).state == "approved"
    with w.c.db.transaction() as s:
        assert grants.advance(s, T0 + 60 * DAY) == [r.id, a.id]
    assert a100_quota(w.c) == 1.0  # the renewal's quota took over
    r2 = allocations.renew(
        w.c, w.t.alice, a.id, justification="again", hours={"a100": 100.0},
        starts_at=T0 + 61 * DAY, ends_at=T0 + 70 * DAY,
    )  # fmt: skip
    assert r2.parent_id == a.id and r2.kind == "renewal"
    assert [x[1] for x in actions(w, a.id)].count("renew") == 2


def test_change_request_amends_the_active_parent(w: World) -> None:
    a = w.request(hours={"a100": 1000.0, "pf": 10.0})
    allocation_review.approve(w.c, w.rev1, a.id, hours={"a100": 1000.0, "pf": 5.0})
    ch = allocations.change(
        w.c, w.t.alice, a.id, justification="bigger model", hours={"a100": 500.0},
        quota={"a100": 3, "h100": 1}, ends_at=T0 + 120 * DAY,
    )  # fmt: skip
    assert ch.kind == "change" and ch.parent_id == a.id and ch.state == "requested"
    done = allocation_review.approve(w.c, w.rev2, ch.id, hours={"a100": 400.0})
    assert done.state == "applied"
    parent = allocation_views.show(w.c, w.t.alice, a.id)
    assert parent.state == "active" and parent.granted_hours == {"a100": 1400.0, "pf": 5.0}
    assert parent.granted_quota == {"a100": 3.0, "h100": 1.0}
    assert parent.ends_at == T0 + 120 * DAY
    assert accounts(w.c, a.id) == {"a100": (1400.0, T0 + 120 * DAY), "pf": (5.0, T0 + 120 * DAY)}
    assert a100_quota(w.c) == 3.0
    assert programs.show(w.c, w.rev1, w.program).granted_hours["a100"] == 1400.0
    assert [x[1] for x in actions(w, a.id)][-2:] == ["change", "change"]


def test_change_adds_a_new_resource_as_a_new_account(w: World) -> None:
    a = w.request()
    allocation_review.approve(w.c, w.rev1, a.id)
    ch = allocations.change(w.c, w.t.alice, a.id, justification="pf", hours={"pf": 20.0})
    allocation_review.approve(w.c, w.rev1, ch.id)
    assert accounts(w.c, a.id) == {"a100": (1000.0, T0 + 90 * DAY), "pf": (20.0, T0 + 90 * DAY)}


def test_visibility_of_allocations(w: World) -> None:
    a = w.request()
    assert [x.id for x in allocation_views.list_allocations(w.c, w.t.bob)] == [a.id]
    assert [x.id for x in allocation_views.list_allocations(w.c, w.rev1)] == [a.id]
    assert allocation_views.list_allocations(w.c, w.t.carol) == []
    assert allocation_views.list_allocations(w.c, w.beth) == []
    assert allocation_views.list_allocations(w.c, w.rev1, state="active") == []
    from aidc.services.errors import NotFound

    with pytest.raises(NotFound):
        allocation_views.show(w.c, w.t.carol, a.id)
    with pytest.raises(NotFound):
        allocation_views.history(w.c, w.beth, a.id)
