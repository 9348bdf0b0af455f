"""The demo's course: seeded once with two students whose demo tokens are fresh each start."""

from __future__ import annotations

import pytest

from aidc.services import auth, courses, demo
from aidc.services.center import Center
from aidc.services.errors import Unauthenticated


def test_the_demo_seeds_a_course_with_two_students_once(center: Center) -> None:
    users = {u.username: u for u in demo.seed(center)}
    assert (users["cnu-hana"].project, users["cnu-hana"].role) == ("cnu-dl101-cnu-hana", "member")
    hana = auth.authenticate(center, users["cnu-hana"].token)
    prof = auth.authenticate(center, users["prof-kim"].token)
    shown = courses.show_course(center, prof, "cnu-dl101")
    assert (shown.organisation, shown.program, shown.instructor) == (
        "Chonnam National University", "ai-education", "prof-kim",
    )  # fmt: skip
    assert [s.username for s in shown.students] == ["cnu-hana", "cnu-minho"]
    assert {s.allocation_state for s in shown.students} == {"active"}
    assert [c.name for c in courses.list_courses(center, hana)] == ["cnu-dl101"]

    again = {u.username: u for u in demo.seed(center)}
    assert len(courses.show_course(center, prof, "cnu-dl101").students) == 2
    center.auth_cache.clear()
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(center, users["cnu-hana"].token)
    assert auth.authenticate(center, again["cnu-hana"].token).username == "cnu-hana"
