"""The demo center's program: an active grant for hanbit-vision, a pending request."""

from __future__ import annotations

from aidc.services import allocation_views, auth, demo, programs
from aidc.services.center import Center
from aidc.services.demo_allocations import PROGRAM
from aidc.services.quotas import quota_tree


def test_demo_program_active_grant_and_pending_request(center: Center) -> None:
    users = {u.username: u for u in demo.seed(center)}
    assert users["reviewer-choi"].role == "reviewer"
    choi = auth.authenticate(center, users["reviewer-choi"].token)
    found = {a.project: a for a in allocation_views.list_allocations(center, choi)}
    hanbit, mirae = found["hanbit-vision"], found["mirae-adas"]
    assert hanbit.state == "active" and hanbit.granted_hours == {"a100": 2000.0}
    assert hanbit.granted_quota == {"a100": 2.0}
    assert [e.actor for e in allocation_views.history(center, choi, hanbit.id)] == [
        "minji",
        "reviewer-choi",
        "reviewer-choi",
    ]
    assert mirae.state == "requested"
    p = programs.show(center, choi, PROGRAM)
    assert p.eligible_kinds == ["sme", "startup"] and p.max_hours == {"a100": 2000.0}
    assert p.remaining_hours == {"a100": 78_000.0}
    with center.db.read() as s:
        limits = {n.name: n.limits for n in quota_tree(s).projects}
    assert limits["hanbit-vision"]["a100"].nominal == 2
    assert limits["mirae-adas"]["a100"].nominal == 2
    # A restarted demo seeds nothing twice (the demo course's students have theirs too).
    before = allocation_views.list_allocations(center, choi)
    assert sum(a.program == PROGRAM for a in before) == 2
    demo.seed(center)
    assert [a.id for a in allocation_views.list_allocations(center, choi)] == [a.id for a in before]
