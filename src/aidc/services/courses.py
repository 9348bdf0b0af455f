"""Courses of education programs: create, list, show and their students.

A course belongs to an organisation and an education program; its instructor and the
organisation's admins manage it (center admins too), its students see their own course.
The roster import, which creates the students, is in ``course_roster``.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.accelerators import CATALOG
from aidc.core.datasets import Tier
from aidc.core.jobspec import NAME_RE
from aidc.core.tenancy import Principal, Role
from aidc.schemas_courses import CourseCreate, CourseView, CreditView, StudentView
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.services.grants import PF
from aidc.services.quotas import RESOURCES
from aidc.store.models import Organisation, Project, User
from aidc.store.models_allocations import (
    Allocation,
    Course,
    CourseStudent,
    CreditAccount,
    Program,
)
from aidc.store.models_datasets import Dataset

EDUCATION = "education"  # the Program.kind of training programs
# What per-student hours can be counted in, and what a per-student quota can limit.
HOURS_RESOURCES: tuple[str, ...] = (*CATALOG, PF)
QUOTA_RESOURCES: tuple[str, ...] = tuple(r for r in RESOURCES if r in CATALOG)


def create_course(center: Center, p: Principal, body: CourseCreate) -> CourseView:
    """A new course, refused naming the field at fault."""
    if not NAME_RE.match(body.name):
        raise Invalid("course names are letters, digits, '.', '_' or '-'", field="name")
    hours = _amounts(body.student_hours, HOURS_RESOURCES, "student_hours", "hours")
    if not hours:
        raise Invalid("give each student some hours, e.g. {'a100': 20}", field="student_hours")
    quota = _amounts(body.student_quota, QUOTA_RESOURCES, "student_quota", "devices")
    datasets = sorted(set(body.datasets))
    for d in datasets:
        if not NAME_RE.match(d):
            raise Invalid(f"dataset name {d!r}: letters, digits, '.', '_' or '-'", "datasets")
    with center.db.transaction() as s:
        org = s.scalars(
            select(Organisation).where(Organisation.name == body.organisation)
        ).one_or_none()
        if org is None or not (p.is_center_admin or p.org_id == org.id):
            raise NotFound(f"no organisation called {body.organisation!r}", field="organisation")
        if not (p.is_center_admin or p.role is Role.ORG_ADMIN):
            raise Forbidden("only center admins and the organisation's admins create courses")
        program = _education_program(s, body.program)
        instructor = s.scalars(select(User).where(User.username == body.instructor)).first()
        if instructor is None or instructor.org_id != org.id:
            raise Invalid(
                f"no user {body.instructor!r} in {org.name}; the instructor must be one",
                field="instructor",
            )
        _check_dates(program, body.starts_at, body.ends_at)
        _check_program_limits(program, hours)
        _check_datasets(s, datasets)
        if s.scalar(select(Course.id).where(Course.name == body.name)) is not None:
            raise Conflict(f"course {body.name!r} already exists", field="name")
        course = Course(
            name=body.name,
            title=body.title,
            org_id=org.id,
            program_id=program.id,
            instructor_id=instructor.id,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            student_hours=hours,
            student_quota=quota,
            datasets=datasets,
            created_at=center.clock(),
        )
        s.add(course)
        s.flush()
        return course_view(s, course)


def list_courses(center: Center, p: Principal) -> list[CourseView]:
    """Center admins see every course; a student the courses they are enrolled in; other
    users their organisation's courses."""
    with center.db.read() as s:
        q = select(Course).order_by(Course.starts_at, Course.name)
        if not p.is_center_admin:
            q = q.where(Course.org_id == p.org_id)
            enrolled = set(
                s.scalars(select(CourseStudent.course_id).where(CourseStudent.user_id == p.user_id))
            )
            if enrolled and p.role is not Role.ORG_ADMIN:
                q = q.where(Course.id.in_(enrolled) | (Course.instructor_id == p.user_id))
        return [course_view(s, c) for c in s.scalars(q)]


def show_course(center: Center, p: Principal, name: str) -> CourseView:
    """The course with its students (managers: all; a student: their own row)."""
    with center.db.read() as s:
        course = visible_course(s, p, name)
        view = course_view(s, course)
        view.students = _students(s, course, None if can_manage(p, course) else p.user_id)
        return view


def list_students(center: Center, p: Principal, name: str) -> list[StudentView]:
    with center.db.read() as s:
        course = visible_course(s, p, name)
        return _students(s, course, None if can_manage(p, course) else p.user_id)


# -- session-level helpers, shared with the roster import ---------------------------------


def _check_datasets(s: Session, names: list[str]) -> None:
    """A course shares catalogued public or registered datasets with its students (who
    read them as members of an organisation with an active allocation, the course's own,
    until it ends). Restricted data is not shared by a course: each project that reads it
    needs its own grant from a data steward."""
    tiers = dict(s.execute(select(Dataset.name, Dataset.tier).where(Dataset.name.in_(names))).all())
    for name in names:
        if name not in tiers:
            raise Invalid(
                f"no dataset called {name!r} in the catalog (aidc dataset list)", "datasets"
            )
        if tiers[name] == Tier.RESTRICTED:
            raise Invalid(
                f"{name} is restricted: a course cannot share it; each project that reads it "
                "needs its own access grant (aidc dataset grant request)",
                "datasets",
            )


def can_manage(p: Principal, course: Course) -> bool:
    """The instructor, the organisation's admins and center admins manage a course."""
    if p.is_center_admin or p.user_id == course.instructor_id:
        return True
    return p.role is Role.ORG_ADMIN and p.org_id == course.org_id


def visible_course(s: Session, p: Principal, name: str) -> Course:
    """The course called ``name`` if ``p`` may see it; others' courses are not found."""
    course = s.scalars(select(Course).where(Course.name == name)).one_or_none()
    if course is None or not (p.is_center_admin or p.org_id == course.org_id):
        raise NotFound(f"no course called {name!r}", field="course")
    if can_manage(p, course):
        return course
    enrolled = set(
        s.scalars(select(CourseStudent.course_id).where(CourseStudent.user_id == p.user_id))
    )
    if enrolled and course.id not in enrolled:
        raise NotFound(f"no course called {name!r}", field="course")  # a student's neighbour
    return course


def course_view(s: Session, course: Course) -> CourseView:
    org = s.get(Organisation, course.org_id)
    program = s.get(Program, course.program_id)
    instructor = s.get(User, course.instructor_id)
    assert org is not None and program is not None and instructor is not None
    count = len(
        s.scalars(select(CourseStudent.user_id).where(CourseStudent.course_id == course.id)).all()
    )
    return CourseView(
        name=course.name,
        title=course.title,
        organisation=org.name,
        program=program.name,
        instructor=instructor.username,
        starts_at=course.starts_at,
        ends_at=course.ends_at,
        student_hours={k: float(v) for k, v in course.student_hours.items()},
        student_quota={k: float(v) for k, v in course.student_quota.items()},
        datasets=[str(d) for d in course.datasets],
        student_count=count,
        created_at=course.created_at,
    )


def student_views(s: Session, course: Course, user_ids: list[int]) -> list[StudentView]:
    """The named students of ``course`` with their allocation and credit use."""
    if not user_ids:
        return []
    rows = s.execute(
        select(CourseStudent, User.username, Project.name, Allocation.state)
        .join(User, User.id == CourseStudent.user_id)
        .join(Project, Project.id == CourseStudent.project_id)
        .join(Allocation, Allocation.id == CourseStudent.allocation_id)
        .where(CourseStudent.course_id == course.id, CourseStudent.user_id.in_(user_ids))
        .order_by(User.username)
    ).all()
    credits: dict[int, list[CreditView]] = defaultdict(list)
    for acct in s.scalars(
        select(CreditAccount)
        .where(CreditAccount.allocation_id.in_([cs.allocation_id for cs, *_ in rows]))
        .order_by(CreditAccount.resource)
    ):
        credits[acct.allocation_id].append(
            CreditView(
                resource=acct.resource,
                granted_hours=acct.granted_hours,
                used_hours=acct.used_hours,
            )
        )
    return [
        StudentView(
            username=username,
            email=cs.email,
            full_name=cs.full_name,
            project=project,
            allocation_id=cs.allocation_id,
            allocation_state=state,
            credits=credits.get(cs.allocation_id, []),
        )
        for cs, username, project, state in rows
    ]


def _students(s: Session, course: Course, only_user: int | None) -> list[StudentView]:
    q = select(CourseStudent.user_id).where(CourseStudent.course_id == course.id)
    if only_user is not None:
        q = q.where(CourseStudent.user_id == only_user)
    return student_views(s, course, list(s.scalars(q)))


def _education_program(s: Session, name: str) -> Program:
    program = s.scalars(select(Program).where(Program.name == name)).one_or_none()
    if program is None:
        raise NotFound(f"no program called {name!r}", field="program")
    if program.kind != EDUCATION:
        raise Invalid(
            f"program {name!r} is of kind {program.kind!r}; courses belong to education programs",
            field="program",
        )
    return program


def _amounts(
    given: dict[str, float], allowed: tuple[str, ...], field: str, unit: str
) -> dict[str, float]:
    for resource, amount in given.items():
        if resource not in allowed:
            raise Invalid(
                f"{field}: unknown resource {resource!r}; use one of {', '.join(allowed)}",
                field=field,
            )
        if not math.isfinite(amount) or amount <= 0:
            raise Invalid(f"{field}: {resource} {unit} must be a number > 0", field=field)
    return {r: float(a) for r, a in sorted(given.items())}


def _check_dates(program: Program, starts_at: float, ends_at: float) -> None:
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not math.isfinite(value):
            raise Invalid(f"{field} must be a time (POSIX seconds)", field=field)
    if ends_at <= starts_at:
        raise Invalid("the course must end after it starts", field="ends_at")
    if starts_at < program.starts_at:
        raise Invalid(f"the course starts before program {program.name!r} does", field="starts_at")
    if ends_at > program.ends_at:
        raise Invalid(f"the course ends after program {program.name!r} does", field="ends_at")


def _check_program_limits(program: Program, hours: dict[str, float]) -> None:
    budget = program.budget_hours or {}
    caps = (program.rules or {}).get("max_hours") or {}
    for resource, h in hours.items():
        if resource not in budget:
            raise Invalid(
                f"program {program.name!r} has no {resource} budget; its budget is in "
                f"{', '.join(sorted(budget)) or 'nothing yet'}",
                field="student_hours",
            )
        if resource in caps and h > float(caps[resource]):
            raise Invalid(
                f"program {program.name!r} grants at most {float(caps[resource]):g} "
                f"{resource}-hours per allocation; asked {h:g} per student",
                field="student_hours",
            )
