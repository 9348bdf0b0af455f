"""Courses: who creates and sees them, what students may do, and how it all ends."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from aidc.core.jobspec import JobSpec
from aidc.services import auth, course_roster, courses, grants, jobs
from aidc.services.center import Center
from aidc.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    Unauthenticated,
)
from aidc.store.models import Quota
from aidc.store.models_allocations import Allocation, CreditAccount
from tests.integration.courses import (
    DAY,
    END,
    START,
    T0,
    add_course,
    add_program,
    course_body,
    make_campus,
    roster,
)


def enrol(center: Center, by: object, *names: str) -> dict[str, str]:
    r = course_roster.import_roster(center, by, "ml101", roster(*names))  # type: ignore[arg-type]
    return {x["username"]: x["token"] for x in csv.DictReader(io.StringIO(r.tokens_csv))}


@pytest.mark.parametrize(
    ("over", "field", "text"),
    [
        ({"name": "ml 101"}, "name", "course names"),
        ({"program": "ai-voucher"}, "program", "of kind 'allocation'"),
        ({"program": "nope"}, "program", "no program"),
        ({"instructor": "bob"}, "instructor", "no user 'bob' in Beta"),
        ({"starts_at": T0 - DAY}, "starts_at", "starts before program"),
        ({"ends_at": T0 + 400 * DAY}, "ends_at", "ends after program"),
        ({"ends_at": START}, "ends_at", "end after it starts"),
        ({"student_hours": {"z100": 1}}, "student_hours", "unknown resource 'z100'"),
        ({"student_hours": {"h100": 1}}, "student_hours", "no h100 budget"),
        ({"student_hours": {"a100": -1}}, "student_hours", "must be a number > 0"),
        ({"student_hours": {}}, "student_hours", "some hours"),
        ({"student_quota": {"pf": 1}}, "student_quota", "unknown resource 'pf'"),
        ({"datasets": ["a b"]}, "datasets", "dataset name"),
        ({"datasets": ["mnist", "cifar"]}, "datasets", "no dataset called 'cifar'"),
        ({"datasets": ["ehr"]}, "datasets", "ehr is restricted: a course cannot share it"),
        ({"organisation": "Acme"}, "organisation", "no organisation"),  # not the dean's
    ],
)
def test_a_course_is_refused_naming_the_field(
    center: Center, over: dict[str, object], field: str, text: str
) -> None:
    k = make_campus(center)
    add_program(center, "ai-voucher", kind="allocation")
    with pytest.raises(ServiceError) as e:
        courses.create_course(center, k.dean, course_body(**over))
    assert e.value.field == field and text in e.value.message


def test_center_admins_and_the_orgs_admins_create_courses(center: Center) -> None:
    k = make_campus(center)
    with pytest.raises(Forbidden):
        courses.create_course(center, k.prof, course_body())  # a member, even the instructor
    view = courses.create_course(center, k.t.root, course_body())
    assert (view.name, view.organisation, view.program, view.instructor) == (
        "ml101", "Beta", "edu-2027", "prof",
    )  # fmt: skip
    assert view.datasets == ["mnist"] and view.student_count == 0
    with pytest.raises(Conflict, match="already exists"):
        courses.create_course(center, k.dean, course_body())
    courses.create_course(center, k.dean, course_body(name="ml102"))


def test_who_sees_which_course_and_which_students(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    add_course(center, k.dean, name="ml102")
    enrol(center, k.prof, "kim", "lee")
    kim = auth.authenticate(center, auth.issue_token(center, "kim"))

    def names(p: object) -> list[str]:
        return [c.name for c in courses.list_courses(center, p)]  # type: ignore[arg-type]

    assert names(k.t.root) == names(k.dean) == names(k.prof) == ["ml101", "ml102"]
    assert names(k.t.carol) == ["ml101", "ml102"]  # a member of the university
    assert names(kim) == ["ml101"]  # a student: their own course
    assert names(k.t.alice) == []  # another organisation
    shown = courses.show_course(center, k.prof, "ml101")
    assert shown.student_count == 2 and [s.username for s in shown.students] == ["kim", "lee"]
    assert [s.username for s in courses.show_course(center, kim, "ml101").students] == ["kim"]
    assert courses.show_course(center, k.t.carol, "ml101").students == []
    assert [s.username for s in courses.list_students(center, kim, "ml101")] == ["kim"]
    for who, name in ((k.t.alice, "ml101"), (kim, "ml102")):
        with pytest.raises(NotFound):
            courses.show_course(center, who, name)


def test_students_submit_to_their_own_project_only(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    toks = enrol(center, k.prof, "kim", "lee")
    kim = auth.authenticate(center, toks["kim"])
    job = jobs.submit(center, kim, JobSpec(project="ml101-kim", command=["true"]))
    assert job.project == "ml101-kim" and job.user == "kim"
    with pytest.raises(Invalid) as e:
        jobs.submit(center, kim, JobSpec(project="ml101-lee", command=["true"]))
    assert e.value.field == "project"
    # The instructor is a member of every student's project, to help.
    prof = auth.authenticate(center, auth.issue_token(center, "prof"))
    assert jobs.get_job(center, prof, job.id).id == job.id


def test_everything_ends_at_the_courses_end(center: Center) -> None:
    k = make_campus(center)
    add_course(center, k.dean)
    toks = enrol(center, k.prof, "kim", "lee")
    with center.db.transaction() as s:
        assert grants.advance(s, END - 1) == []
    k.now[0] = END - 1
    center.auth_cache.clear()
    assert auth.authenticate(center, toks["kim"]).username == "kim"

    with center.db.transaction() as s:
        ended = grants.advance(s, END)
    with center.db.read() as s:
        allocations = s.scalars(select(Allocation).where(Allocation.kind == "course")).all()
        assert sorted(ended) == sorted(a.id for a in allocations) and len(ended) == 2
        assert {a.state for a in allocations} == {"expired"}
        assert set(s.scalars(select(Quota.nominal).where(Quota.owner_kind == "project"))) == {0.0}
        assert {a.ends_at for a in s.scalars(select(CreditAccount))} == {END}
    shown = courses.show_course(center, k.prof, "ml101")
    assert {s.allocation_state for s in shown.students} == {"expired"}

    k.now[0] = END
    for token in toks.values():
        with pytest.raises(Unauthenticated, match="expired"):
            auth.authenticate(center, token)


def test_a_token_can_expire_at_a_given_time(center: Center) -> None:
    k = make_campus(center)
    token = auth.issue_token(center, "prof", "course", expires_at=END)
    assert auth.authenticate(center, token).username == "prof"
    k.now[0] = END
    with pytest.raises(Unauthenticated, match="expired"):
        auth.authenticate(center, token)
