"""Importing a roster: what each student gets, all-or-nothing refusals, budget, re-import."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from aidc.services import auth, course_roster, grants, tenancy
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid
from aidc.store.models import ApiToken, Project, ProjectMember, Quota, User
from aidc.store.models_allocations import (
    Allocation,
    AllocationEvent,
    CourseStudent,
    CreditAccount,
)
from tests.integration.courses import END, START, add_course, make_campus, roster


def counts(c: Center) -> dict[str, int]:
    tables = (User, Project, ProjectMember, Allocation, AllocationEvent, CreditAccount)
    with c.db.read() as s:
        out = {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
        for t in (CourseStudent, ApiToken, Quota):
            out[t.__tablename__] = s.scalar(select(func.count()).select_from(t)) or 0
        return out


def tokens(result_csv: str) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(result_csv)))
    return {r["username"]: r["token"] for r in rows}


def test_import_creates_users_projects_allocations_credits_and_quota(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    r = course_roster.import_roster(center, k.prof, "ml101", roster("kim", "lee"))
    assert [x.username for x in r.added] == ["kim", "lee"] and r.already_enrolled == []
    assert set(tokens(r.tokens_csv)) == {"kim", "lee"}
    assert r.tokens_csv.startswith("username,token\n")
    kim = r.added[0]
    assert (kim.project, kim.email, kim.full_name) == ("ml101-kim", "kim@uni.ac.kr", "Student kim")
    assert kim.allocation_state == "active"  # the course has started
    assert [(x.resource, x.granted_hours, x.used_hours) for x in kim.credits] == [
        ("a100", 20.0, 0.0)
    ]
    with center.db.read() as s:
        user = s.scalars(select(User).where(User.username == "kim")).one()
        assert (user.role, user.org_id) == ("member", k.prof.org_id)
        project = s.scalars(select(Project).where(Project.name == "ml101-kim")).one()
        members = set(
            s.scalars(
                select(User.username)
                .join(ProjectMember, ProjectMember.user_id == User.id)
                .where(ProjectMember.project_id == project.id)
            )
        )
        assert members == {"kim", "prof"}
        a = s.get(Allocation, kim.allocation_id)
        assert a is not None
        assert (a.kind, a.state, a.requested_by, a.justification) == (
            "course", "active", k.prof.user_id, "course ml101",
        )  # fmt: skip
        assert (a.granted_hours, a.granted_quota, a.starts_at, a.ends_at) == (
            {"a100": 20.0}, {"a100": 1.0}, START, END,
        )  # fmt: skip
        events = s.scalars(
            select(AllocationEvent.action).where(AllocationEvent.allocation_id == a.id)
            .order_by(AllocationEvent.id)
        ).all()  # fmt: skip
        assert list(events) == ["request", "approve", "activate"]
        quota = s.scalars(
            select(Quota).where(Quota.owner_kind == "project", Quota.owner_id == project.id)
        ).one()
        assert (quota.resource, quota.nominal) == ("a100", 1.0)
    # The token works until the course ends.
    me = auth.authenticate(center, tokens(r.tokens_csv)["kim"])
    assert me.username == "kim" and project.id in me.project_ids


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (roster("kim", "bad name", "lee"), "row 3, username"),
        (roster("kim", "lee", "Kim"), "row 4, username"),  # a duplicate, case aside
        (roster("kim", "bob"), "row 3, username"),  # bob is a user of Acme
        (roster("kim", "lee").replace("lee@uni.ac.kr", ""), "row 3, email"),
        (roster("kim", "lee").replace("Student lee", " "), "row 3, full_name"),
        (roster("kim", "lee").replace("kim@uni.ac.kr", "kim.uni.ac.kr"), "row 2, email"),
        ("username,email,full_name,phone\nkim,k@uni.ac.kr,Kim,010\n", "header"),
        (roster("kim", "taken"), "row 3, username"),  # its project name is taken
    ],
)
def test_a_bad_row_refuses_the_whole_import_and_creates_nothing(
    center: Center, text: str, field: str
) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    tenancy.create_project(center, "ml101-taken", "Beta", [])
    before = counts(center)
    with pytest.raises(Invalid) as e:
        course_roster.import_roster(center, k.prof, "ml101", text)
    assert field in [f for f, _ in e.value.fields], e.value.fields
    assert field in e.value.message and "nothing was created" in e.value.message
    assert counts(center) == before


def test_a_roster_beyond_the_programs_budget_is_refused_with_the_numbers(center: Center) -> None:
    k = make_campus(center, budget={"a100": 50.0})
    add_course(center, k.dean)
    before = counts(center)
    with pytest.raises(Invalid) as e:
        course_roster.import_roster(center, k.prof, "ml101", roster("a", "b", "c"))
    assert e.value.field == "student_hours"
    assert "50 a100-hours left" in e.value.message and "3 new students x 20" in e.value.message
    assert "= 60 needed" in e.value.message
    assert counts(center) == before
    # Two fit; then the third no longer does (40 of 50 granted).
    course_roster.import_roster(center, k.prof, "ml101", roster("a", "b"))
    with pytest.raises(Invalid, match="10 a100-hours left; 1 new students x 20"):
        course_roster.import_roster(center, k.prof, "ml101", roster("a", "b", "c"))


def test_reimporting_adds_only_the_new_students(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    first = course_roster.import_roster(center, k.prof, "ml101", roster("kim", "lee"))
    again = course_roster.import_roster(center, k.dean, "ml101", roster("kim", "lee", "park"))
    assert [x.username for x in again.added] == ["park"]
    assert again.already_enrolled == ["kim", "lee"]
    assert set(tokens(again.tokens_csv)) == {"park"}
    before = counts(center)
    same = course_roster.import_roster(center, k.prof, "ml101", roster("lee", "park", "kim"))
    assert same.added == [] and same.tokens_csv == "username,token\n"
    assert counts(center) == before
    # The first tokens still work: re-importing does not replace them.
    assert auth.authenticate(center, tokens(first.tokens_csv)["lee"]).username == "lee"


def test_only_the_courses_managers_import(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    with pytest.raises(Forbidden):
        course_roster.import_roster(center, k.t.carol, "ml101", roster("kim"))
    with pytest.raises(Exception, match="no course called"):
        course_roster.import_roster(center, k.t.alice, "ml101", roster("kim"))  # other org
    course_roster.import_roster(center, k.t.root, "ml101", roster("kim"))


def test_a_course_that_has_not_started_activates_at_its_start(center: Center) -> None:
    k = make_campus(center)
    k.now[0] = START - 5 * 86400.0
    add_course(center, k.dean)
    r = course_roster.import_roster(center, k.prof, "ml101", roster("kim"))
    assert r.added[0].allocation_state == "approved" and r.added[0].credits == []
    with center.db.read() as s:
        quota = s.scalars(select(Quota.nominal).where(Quota.owner_kind == "project")).all()
    assert quota == [0.0]  # the course's type is managed, at 0, until the start
    with center.db.transaction() as s:
        assert grants.advance(s, START - 1) == []
        assert grants.advance(s, START) == [r.added[0].allocation_id]
    with center.db.read() as s:
        a = s.get(Allocation, r.added[0].allocation_id)
        assert a is not None and a.state == "active"
        assert s.scalars(select(Quota.nominal).where(Quota.owner_kind == "project")).all() == [1.0]
        assert s.scalars(select(CreditAccount.granted_hours)).all() == [20.0]


def test_an_ended_course_takes_no_roster(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    k.now[0] = END
    with pytest.raises(Invalid, match="ended"):
        course_roster.import_roster(center, k.prof, "ml101", roster("kim"))
