"""The demo's course: an education program and a course at Chonnam National University
taught by prof-kim, with two students, seeded the first time like the rest of the demo."""

from __future__ import annotations

from sqlalchemy import select

from aidc.core.roster import format_roster
from aidc.core.tenancy import Principal, Role
from aidc.schemas_courses import CourseCreate
from aidc.services.auth import add_token
from aidc.services.center import Center
from aidc.services.course_roster import import_roster
from aidc.services.courses import EDUCATION, create_course
from aidc.store.models import ApiToken, Organisation, Project, ProjectMember, User
from aidc.store.models_allocations import Course, CourseStudent, Program

DAY = 86400.0
PROGRAM = "ai-education"
SHARED_DATASETS = ("gwangju-heritage-images", "grid-load-jeonnam")  # public, registered
COURSE = "cnu-dl101"
UNIVERSITY = "Chonnam National University"
INSTRUCTOR = "prof-kim"
STUDENTS = (
    ("cnu-hana", "hana@jnu.ac.kr", "Choi Hana"),
    ("cnu-minho", "minho@jnu.ac.kr", "Jung Minho"),
)
TOKEN_NAME = "demo"


def seed_course(center: Center) -> list[tuple[str, str, str, str, str]]:
    """Create the program, course and students if missing; new demo tokens for the students
    (expiring with the course) as (username, organisation, role, project, token)."""
    now = center.clock()
    with center.db.transaction() as s:
        instructor = s.scalars(select(User).where(User.username == INSTRUCTOR)).one_or_none()
        if instructor is None:
            return []  # a database seeded by an older demo without the university
        org = s.get(Organisation, instructor.org_id)
        assert org is not None
        who = Principal(
            user_id=instructor.id,
            username=instructor.username,
            org_id=org.id,
            org_name=org.name,
            role=Role(instructor.role),
            project_ids=frozenset(
                s.scalars(
                    select(ProjectMember.project_id).where(ProjectMember.user_id == instructor.id)
                )
            ),
        )
        if s.scalar(select(Program.id).where(Program.name == PROGRAM)) is None:
            s.add(
                Program(
                    name=PROGRAM,
                    kind=EDUCATION,
                    description="Teaching on the center: courses at universities.",
                    starts_at=now - 30 * DAY,
                    ends_at=now + 365 * DAY,
                    eligible_kinds=["university"],
                    budget_hours={"a100": 200.0},
                    storage_budget_gb=0.0,
                    rules={},
                    cohort_id=None,
                    created_at=now,
                    created_by="demo",
                )
            )
        has_course = s.scalar(select(Course.id).where(Course.name == COURSE)) is not None
    if not has_course:
        # No per-student quota: the demo's four a100s are the voucher projects' nominal
        # quota; students borrow what is idle.
        body = CourseCreate(
            name=COURSE,
            title="Deep learning (demo)",
            organisation=UNIVERSITY,
            program=PROGRAM,
            instructor=INSTRUCTOR,
            starts_at=now - DAY,
            ends_at=now + 120 * DAY,
            student_hours={"a100": 20.0},
            # Two of the demo's sample datasets, where the demo publishes them.
            datasets=list(SHARED_DATASETS) if center.datasets is not None else [],
        )
        create_course(center, who, body)
        import_roster(center, who, COURSE, format_roster(list(STUDENTS)))
    return _fresh_tokens(center, now)


def _fresh_tokens(center: Center, now: float) -> list[tuple[str, str, str, str, str]]:
    out: list[tuple[str, str, str, str, str]] = []
    with center.db.transaction() as s:
        course = s.scalars(select(Course).where(Course.name == COURSE)).one()
        if now >= course.ends_at:
            return []
        org = s.get(Organisation, course.org_id)
        assert org is not None
        rows = s.execute(
            select(User, Project.name)
            .join(CourseStudent, CourseStudent.user_id == User.id)
            .join(Project, Project.id == CourseStudent.project_id)
            .where(CourseStudent.course_id == course.id)
            .order_by(User.username)
        ).all()
        for user, project in rows:
            for tok in s.scalars(
                select(ApiToken).where(
                    ApiToken.user_id == user.id,
                    ApiToken.name == TOKEN_NAME,
                    ApiToken.revoked_at.is_(None),
                )
            ):
                tok.revoked_at = now
            token = add_token(s, user.id, name=TOKEN_NAME, now=now, expires_at=course.ends_at)
            out.append((user.username, org.name, user.role, project, token))
    return out
