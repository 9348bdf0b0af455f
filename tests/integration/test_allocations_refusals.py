"""Every refusal of the allocation lifecycle: who may not, what may not, and nothing written."""

from __future__ import annotations

import pytest

from aidc.services import allocation_review, allocation_views, allocations, grants
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.integration.alloc_world import DAY, T0, World, make_world


@pytest.fixture
def w(center: Center) -> World:
    return make_world(center)


def history_len(w: World, allocation_id: int) -> int:
    return len(allocation_views.history(w.c, w.t.root, allocation_id))


@pytest.mark.parametrize("who", ["bob", "vic", "alice", "carol", "beth"])
def test_members_viewers_and_org_admins_cannot_approve_or_reject(w: World, who: str) -> None:
    a = w.request()
    p = w.beth if who == "beth" else getattr(w.t, who)
    for decide in (
        lambda: allocation_review.approve(w.c, p, a.id),
        lambda: allocation_review.reject(w.c, p, a.id, "no"),
        lambda: allocation_review.ask_changes(w.c, p, a.id, "more"),
    ):
        with pytest.raises((Forbidden, NotFound)) as e:
            decide()
        if isinstance(e.value, Forbidden):
            assert "only reviewers and center admins" in e.value.message
    assert allocation_views.show(w.c, w.t.root, a.id).state == "requested"
    assert history_len(w, a.id) == 1


def test_nobody_approves_a_request_of_their_own_organisation(w: World) -> None:
    a = w.request()
    with pytest.raises(Forbidden, match="of their own organisation"):
        allocation_review.approve(w.c, w.acme_rev, a.id)
    with pytest.raises(Forbidden, match="of their own organisation"):
        allocation_review.reject(w.c, w.acme_rev, a.id, "mine")
    # A center admin's own organisation's request is refused to them too.
    from aidc.services import tenancy

    tenancy.create_project(w.c, "center-ops", "Center", [])
    from aidc.services import programs

    programs.create(
        w.c, w.t.root, "open", starts_at=T0, ends_at=T0 + 100 * DAY, budget_hours={"a100": 10}
    )
    from tests.integration.alloc_world import principal

    tenancy.create_user(w.c, "ops-admin", "Center", "org-admin")
    ops = principal(w.c, "ops-admin")
    own = allocations.request(
        w.c, ops, project="center-ops", program="open", justification="ops", hours={"a100": 1},
        starts_at=T0, ends_at=T0 + 10 * DAY,
    )  # fmt: skip
    for reviewer in (w.t.root, w.rev1):
        with pytest.raises(Forbidden, match="own organisation"):
            allocation_review.approve(w.c, reviewer, own.id)


def test_only_the_org_admin_requests_for_their_own_projects(w: World) -> None:
    with pytest.raises(Forbidden, match="organisation admins request"):
        allocations.request(
            w.c, w.t.bob, project="acme-a", program=w.program, justification="x",
            hours={"a100": 1}, starts_at=T0, ends_at=T0 + DAY,
        )  # fmt: skip
    with pytest.raises(NotFound) as e:
        w.request(project="beta-b")
    assert e.value.field == "project"
    with pytest.raises(Forbidden, match="university"):
        allocations.request(
            w.c, w.beth, project="beta-b", program=w.program, justification="x",
            hours={"a100": 1}, starts_at=T0, ends_at=T0 + DAY,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"hours": {"a100": 2500.0}}, "hours", "more than program"),
        ({"hours": {"h100": 10.0}}, "hours", "not one of"),
        ({"hours": {"a100": -1.0}}, "hours", "more than 0"),
        ({"hours": {}}, "hours", "one resource"),
        ({"quota": {"z100": 1}}, "quota", "accelerator type"),
        ({"quota": {"a100": -1}}, "quota", ">= 0"),
        ({"storage_gb": -5.0}, "storage_gb", ">= 0"),
        ({"justification": "  "}, "justification", "what the capacity is for"),
        ({"starts_at": T0 - DAY}, "starts_at", "program's period"),
        ({"ends_at": T0 + 400 * DAY}, "ends_at", "program's period"),
        ({"ends_at": T0}, "ends_at", "end after it starts"),
        ({"program": "nope"}, "program", "no program"),
    ],
)
def test_bad_requests_name_the_field(w: World, kw: dict, field: str, words: str) -> None:
    with pytest.raises((Invalid, NotFound)) as e:
        w.request(**kw)
    assert e.value.field == field and words in e.value.message
    assert allocation_views.list_allocations(w.c, w.t.root) == []


def test_no_grant_beyond_the_request(w: World) -> None:
    a = w.request()
    with pytest.raises(Invalid, match="more than the 1000 asked") as e:
        allocation_review.approve(w.c, w.rev1, a.id, hours={"a100": 1001.0})
    assert e.value.field == "hours"
    with pytest.raises(Invalid, match="was not asked for"):
        allocation_review.approve(w.c, w.rev1, a.id, hours={"pf": 1.0})
    with pytest.raises(Invalid, match="more than the 2"):
        allocation_review.approve(w.c, w.rev1, a.id, quota={"a100": 3})
    with pytest.raises(Invalid, match="storage"):
        allocation_review.approve(w.c, w.rev1, a.id, storage_gb=101.0)
    assert history_len(w, a.id) == 1


def test_over_budget_names_the_resource_and_what_is_left(center: Center) -> None:
    w = make_world(center, budget={"a100": 2500.0})
    first = w.request(hours={"a100": 2000.0})
    allocation_review.approve(w.c, w.rev1, first.id)
    second = w.request(hours={"a100": 1000.0})
    with pytest.raises(Conflict) as e:
        allocation_review.approve(w.c, w.rev1, second.id)
    assert "over budget" in e.value.message and "500 a100 hours left" in e.value.message
    assert e.value.field == "hours"
    assert allocation_views.show(w.c, w.rev1, second.id).state == "requested"
    assert allocation_review.approve(w.c, w.rev1, second.id, hours={"a100": 500}).state == "active"


def test_over_storage_budget(w: World) -> None:
    a = w.request(storage_gb=900.0)
    allocation_review.approve(w.c, w.rev1, a.id)
    b = w.request(storage_gb=200.0)
    with pytest.raises(Conflict, match="100 GB of storage left"):
        allocation_review.approve(w.c, w.rev1, b.id)


def test_no_approval_after_the_end_date(w: World) -> None:
    a = w.request(ends_at=T0 + 10 * DAY)
    w.clock.now = T0 + 10 * DAY
    with pytest.raises(Conflict, match="can no longer be approved"):
        allocation_review.approve(w.c, w.rev1, a.id)


@pytest.mark.parametrize("end", ["rejected", "withdrawn", "expired"])
def test_no_transitions_out_of_ended_allocations(w: World, end: str) -> None:
    a = w.request(ends_at=T0 + 10 * DAY)
    if end == "rejected":
        allocation_review.reject(w.c, w.rev1, a.id, "no")
    elif end == "withdrawn":
        allocations.withdraw(w.c, w.t.alice, a.id)
    else:
        allocation_review.approve(w.c, w.rev1, a.id)
        with w.c.db.transaction() as s:
            grants.advance(s, T0 + 10 * DAY)
    before = history_len(w, a.id)
    refused = [
        lambda: allocation_review.approve(w.c, w.rev2, a.id),
        lambda: allocation_review.reject(w.c, w.rev2, a.id, "x"),
        lambda: allocation_review.ask_changes(w.c, w.rev2, a.id, "x"),
        lambda: allocations.withdraw(w.c, w.t.alice, a.id),
        lambda: allocations.resubmit(w.c, w.t.alice, a.id),
        lambda: allocations.comment(w.c, w.rev1, a.id, "hello"),
        lambda: allocations.change(w.c, w.t.alice, a.id, justification="x", hours={"a100": 1}),
    ]
    for attempt in refused:
        with pytest.raises(Conflict, match=f"is {end}; it cannot be changed any more"):
            attempt()
    assert history_len(w, a.id) == before


def test_wrong_state_refusals(w: World) -> None:
    a = w.request()
    with pytest.raises(Conflict, match="cannot resubmit an allocation that is requested"):
        allocations.resubmit(w.c, w.t.alice, a.id)
    with pytest.raises(Conflict, match="cannot renew"):
        allocations.renew(w.c, w.t.alice, a.id, justification="x", hours={"a100": 1},
                          starts_at=T0, ends_at=T0 + DAY)  # fmt: skip
    with pytest.raises(Conflict, match="cannot change"):
        allocations.change(w.c, w.t.alice, a.id, justification="x", hours={"a100": 1})
    allocation_review.ask_changes(w.c, w.rev1, a.id, "why")
    with pytest.raises(Conflict, match="cannot approve an allocation that is changes-requested"):
        allocation_review.approve(w.c, w.rev1, a.id)
    allocations.resubmit(w.c, w.t.alice, a.id)
    allocation_review.approve(w.c, w.rev1, a.id)
    with pytest.raises(Conflict, match="cannot withdraw an allocation that is active"):
        allocations.withdraw(w.c, w.t.alice, a.id)


def test_who_may_file_comment_resubmit_withdraw(w: World) -> None:
    a = w.request()
    with pytest.raises(Forbidden, match="organisation's admins withdraw"):
        allocations.withdraw(w.c, w.t.bob, a.id)
    with pytest.raises(Forbidden, match="comment on"):
        allocations.comment(w.c, w.t.bob, a.id, "hi")
    with pytest.raises(Invalid) as e:
        allocations.comment(w.c, w.rev1, a.id, " ")
    assert e.value.field == "reason"
    with pytest.raises(Invalid):
        allocation_review.reject(w.c, w.rev1, a.id, "")
    allocation_review.ask_changes(w.c, w.rev1, a.id, "more")
    with pytest.raises(Forbidden, match="resubmit"):
        allocations.resubmit(w.c, w.rev1, a.id)
    with pytest.raises(Invalid, match="more than program"):
        allocations.resubmit(w.c, w.t.alice, a.id, hours={"a100": 5000.0})
    assert allocation_views.show(w.c, w.t.alice, a.id).state == "changes-requested"


def test_change_requests_are_checked(w: World) -> None:
    a = w.request(hours={"a100": 1800.0})
    allocation_review.approve(w.c, w.rev1, a.id)
    with pytest.raises(Invalid, match="2100 hours is more"):
        allocations.change(w.c, w.t.alice, a.id, justification="x", hours={"a100": 300.0})
    with pytest.raises(Invalid, match="later"):
        allocations.change(w.c, w.t.alice, a.id, justification="x", ends_at=T0 + DAY)
    with pytest.raises(Invalid, match="asks for more hours"):
        allocations.change(w.c, w.t.alice, a.id, justification="x")
    ch = allocations.change(w.c, w.t.alice, a.id, justification="x", hours={"a100": 100.0})
    with w.c.db.transaction() as s:
        grants.advance(s, T0 + 90 * DAY)  # the parent expires before the change is decided
    w.clock.now = T0 + 2 * DAY
    with pytest.raises(Conflict, match="is expired, not active"):
        allocation_review.approve(w.c, w.rev1, ch.id)


def test_approvals_at_once_never_overspend_the_budget(center: Center) -> None:
    """Two reviewers approve two requests at the same moment; the budget holds only one."""
    import threading

    w = make_world(center, budget={"a100": 1500.0})
    first, second = w.request(), w.request()
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def decide(name: str, reviewer: object, allocation_id: int) -> None:
        barrier.wait()
        try:
            allocation_review.approve(w.c, reviewer, allocation_id)  # type: ignore[arg-type]
            results[name] = "approved"
        except Conflict as e:
            results[name] = e.message

    threads = [
        threading.Thread(target=decide, args=("a", w.rev1, first.id)),
        threading.Thread(target=decide, args=("b", w.rev2, second.id)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values())[0] == "approved"
    assert "over budget" in sorted(results.values())[1], results
