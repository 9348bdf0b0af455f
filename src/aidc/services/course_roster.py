"""Importing a course roster: every student gets a user, a project, an allocation and a token.

All or nothing, in one transaction: the file is checked as a whole (``core.roster``), then
against the store (usernames taken in other organisations, project names taken, the
program's remaining budget), and only then is anything written. Students already enrolled
in the course are left as they were, so importing a grown roster adds only the new ones.
Everything a student gets ends at the course's end: the allocation expires through
``grants.advance``, the token at ``Course.ends_at``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.roster import RosterError, RosterInvalid, RosterRow, parse_roster
from aidc.core.tenancy import Principal, Role
from aidc.schemas_courses import RosterImportView
from aidc.services import grants
from aidc.services.auth import add_token
from aidc.services.center import Center
from aidc.services.courses import can_manage, student_views, visible_course
from aidc.services.errors import Forbidden, Invalid
from aidc.services.grants import AllocationState
from aidc.store.models import Cohort, Project, ProjectMember, User
from aidc.store.models_allocations import Allocation, Course, CourseStudent, Program

ALLOCATION_KIND = "course"
# Rounding slack when comparing hours summed from JSON floats.
EPS = 1e-9


def import_roster(center: Center, p: Principal, course_name: str, text: str) -> RosterImportView:
    """Enrol the roster's new students in ``course_name``; their tokens as CSV, once."""
    now = center.clock()
    with center.db.transaction() as s:
        course = visible_course(s, p, course_name)
        if not can_manage(p, course):
            raise Forbidden(
                "only the course's instructor, its organisation's admins and center admins "
                "import a roster"
            )
        if now >= course.ends_at:
            raise Invalid(f"course {course.name!r} ended on {_day(course.ends_at)}", "course")
        try:
            rows = parse_roster(text, project_prefix=course.name)
        except RosterInvalid as e:
            raise _refused(e) from None
        # Locking the program serialises imports (and grants) that draw on its budget.
        program = s.scalars(
            select(Program).where(Program.id == course.program_id).with_for_update()
        ).one()
        enrolled = dict(
            s.execute(
                select(User.username, User.id)
                .join(CourseStudent, CourseStudent.user_id == User.id)
                .where(CourseStudent.course_id == course.id)
            ).all()
        )
        new = [r for r in rows if r.username not in enrolled]
        users = _check_against_store(s, course, new)
        _check_budget(s, program, course, len(new))
        instructor = s.get(User, course.instructor_id)
        assert instructor is not None
        tokens: list[tuple[str, str]] = []
        added: list[int] = []
        for r in new:
            user = users.get(r.username) or _add_user(s, r.username, course.org_id, now)
            _enrol(s, p, course, program, r, user, instructor, now)
            name = f"course {course.name}"[:64]
            tokens.append(
                (r.username, add_token(s, user.id, name=name, now=now, expires_at=course.ends_at))
            )
            added.append(user.id)
        s.flush()
        return RosterImportView(
            course=course.name,
            added=student_views(s, course, added),
            already_enrolled=[r.username for r in rows if r.username in enrolled],
            tokens_csv=_tokens_csv(tokens),
        )


def _check_against_store(s: Session, course: Course, rows: list[RosterRow]) -> dict[str, User]:
    """Users of the course's organisation the roster names (enrolled as they are); refuses
    usernames of other organisations and project names already taken."""
    names = [r.username for r in rows]
    users = {u.username: u for u in s.scalars(select(User).where(User.username.in_(names)))}
    projects = [f"{course.name}-{n}" for n in names]
    taken = set(s.scalars(select(Project.name).where(Project.name.in_(projects))))
    taken |= set(s.scalars(select(Cohort.name).where(Cohort.name.in_(projects))))
    errors: list[RosterError] = []
    for r in rows:
        user = users.get(r.username)
        project = f"{course.name}-{r.username}"
        if user is not None and user.org_id != course.org_id:
            errors.append(
                RosterError(
                    r.row,
                    "username",
                    f"{r.username!r} is already a user of another organisation; pick another "
                    "username",
                )
            )
        elif project in taken:
            errors.append(
                RosterError(
                    r.row,
                    "username",
                    f"the student's project name {project!r} is already taken; pick another "
                    "username",
                )
            )
    if errors:
        raise _refused(RosterInvalid(errors))
    return users


def _check_budget(s: Session, program: Program, course: Course, students: int) -> None:
    if not students:
        return
    remaining = grants.program_remaining(s, program)
    for resource, hours in sorted(course.student_hours.items()):
        need = students * float(hours)
        left = remaining.get(resource, 0.0)
        if need > left + EPS:
            raise Invalid(
                f"program {program.name!r} has {left:g} {resource}-hours left; {students} new "
                f"students x {float(hours):g} {resource}-hours = {need:g} needed. Ask the "
                "center for more budget, give each student fewer hours, or import fewer students",
                field="student_hours",
            )


def _add_user(s: Session, username: str, org_id: int, now: float) -> User:
    user = User(username=username, org_id=org_id, role=Role.MEMBER, created_at=now)
    s.add(user)
    s.flush()
    return user


def _enrol(
    s: Session,
    p: Principal,
    course: Course,
    program: Program,
    r: RosterRow,
    user: User,
    instructor: User,
    now: float,
) -> None:
    """The student's project (they and the instructor its members), its allocation,
    approved and, once the course has started, active."""
    project = Project(name=f"{course.name}-{r.username}", org_id=course.org_id, created_at=now)
    s.add(project)
    s.flush()
    for member in sorted({user.id, instructor.id}):
        s.add(ProjectMember(project_id=project.id, user_id=member))
    a = Allocation(
        program_id=program.id,
        project_id=project.id,
        org_id=course.org_id,
        kind=ALLOCATION_KIND,
        parent_id=None,
        state=AllocationState.REQUESTED,
        justification=f"course {course.name}",
        requested_hours=dict(course.student_hours),
        requested_quota=dict(course.student_quota),
        requested_storage_gb=0.0,
        granted_hours=dict(course.student_hours),
        granted_quota=dict(course.student_quota),
        granted_storage_gb=0.0,
        starts_at=course.starts_at,
        ends_at=course.ends_at,
        requested_by=instructor.id,
        created_at=now,
        updated_at=now,
    )
    s.add(a)
    s.flush()
    why = f"course {course.name}: roster import"
    grants.record_event(
        s, a, at=now, actor=instructor.username, action="request", to_state=a.state, reason=why
    )
    grants.record_event(
        s, a, at=now, actor=p.username, action="approve", to_state=AllocationState.APPROVED,
        reason=why,
    )  # fmt: skip
    if now >= course.starts_at:
        grants.activate(s, a, at=now, actor=p.username, reason=f"course {course.name} started")
    else:
        # Until the start the project's quota on the course's types is 0, not unmanaged.
        s.flush()
        grants.sync_project_quota(s, project.id, at=now)
    s.add(
        CourseStudent(
            course_id=course.id,
            user_id=user.id,
            project_id=project.id,
            allocation_id=a.id,
            email=r.email,
            full_name=r.full_name,
        )
    )


def _refused(e: RosterInvalid) -> Invalid:
    return Invalid(str(e), fields=[(x.field, x.message) for x in e.errors])


def _tokens_csv(tokens: list[tuple[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("username", "token"))
    w.writerows(tokens)
    return buf.getvalue()


def _day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
