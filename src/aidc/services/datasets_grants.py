"""Access grants to restricted datasets: a project's member asks (purpose, period), a data
steward approves or rejects; approved grants are live from their start to their end."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aidc.core.datasets import Tier
from aidc.core.tenancy import Principal, Role
from aidc.schemas_datasets import GrantDecision, GrantRequest, GrantView
from aidc.services.center import Center
from aidc.services.courses import can_manage as can_manage_course
from aidc.services.datasets import by_name
from aidc.services.datasets_access import is_steward
from aidc.services.datasets_audit import record
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.store.models import Project
from aidc.store.models_allocations import Course, CourseStudent
from aidc.store.models_datasets import AccessGrant, Dataset

REQUESTED = "requested"
APPROVED = "approved"
REJECTED = "rejected"
REVOKED = "revoked"
MAX_GRANT_S = 3 * 365 * 86400


def live_grant(s: Session, dataset_id: int, project_id: int, now: float) -> AccessGrant | None:
    """The project's live grant, its own or one of a course it is a student project of."""
    its_courses = select(CourseStudent.course_id).where(CourseStudent.project_id == project_id)
    return s.scalars(
        select(AccessGrant)
        .where(
            AccessGrant.dataset_id == dataset_id,
            or_(AccessGrant.project_id == project_id, AccessGrant.course_id.in_(its_courses)),
            AccessGrant.state == APPROVED,
            AccessGrant.starts_at <= now,
            AccessGrant.ends_at > now,
        )
        .order_by(AccessGrant.ends_at.desc())
        .limit(1)
    ).first()


def request_grant(center: Center, p: Principal, body: GrantRequest) -> GrantView:
    now = center.clock()
    starts = body.starts_at if body.starts_at is not None else now
    if body.ends_at <= starts:
        raise Invalid("the grant must end after it starts", field="ends_at")
    if body.ends_at - starts > MAX_GRANT_S:
        raise Invalid("grants last at most three years; ask again to renew", field="ends_at")
    if (body.project is None) == (body.course is None):
        raise Invalid("name the project that needs the data, or a course", field="project")
    if p.role in (Role.VIEWER, Role.REVIEWER):
        raise Forbidden("viewers and reviewers do not request data access")
    with center.db.transaction() as s:
        ds = by_name(s, body.dataset)
        if ds.tier != Tier.RESTRICTED:
            raise Invalid(f"{ds.name} is {ds.tier}; only restricted data needs a grant", "dataset")
        project_id = course_id = None
        if body.course is not None:
            course = s.scalars(select(Course).where(Course.name == body.course)).first()
            if course is None or not can_manage_course(p, course):
                raise NotFound(f"no course {body.course!r} that you manage", field="course")
            if ds.name not in course.datasets:
                raise Invalid(f"course {course.name} does not list {ds.name}", field="course")
            course_id = course.id
        else:
            project = s.scalars(select(Project).where(Project.name == body.project)).first()
            if project is None or not (p.is_center_admin or project.id in p.project_ids):
                raise NotFound(f"no project {body.project!r} of yours", field="project")
            project_id = project.id
        g = AccessGrant(
            dataset_id=ds.id,
            project_id=project_id,
            course_id=course_id,
            state=REQUESTED,
            purpose=body.purpose,
            starts_at=starts,
            ends_at=body.ends_at,
            requested_by=p.username,
            created_at=now,
        )
        s.add(g)
        s.flush()
        record(s, at=now, actor=p.username, action="grant-request", dataset=ds.name,
               project=_subject(s, g), purpose=body.purpose)  # fmt: skip
        return _view(s, g, now)


def decide(
    center: Center, p: Principal, grant_id: int, approve: bool, body: GrantDecision
) -> GrantView:
    if not is_steward(p):
        raise Forbidden("only data stewards and center admins decide access grants")
    if not approve and not body.reason.strip():
        raise Invalid("say why the request is rejected", field="reason")
    now = center.clock()
    with center.db.transaction() as s:
        g = s.get(AccessGrant, grant_id)
        if g is None:
            raise NotFound(f"no grant {grant_id}", field="grant")
        if g.state != REQUESTED:
            raise Conflict(f"grant {grant_id} is already {g.state}", field="grant")
        g.state = APPROVED if approve else REJECTED
        g.decided_by, g.decided_at, g.reason = p.username, now, body.reason
        ds = s.get_one(Dataset, g.dataset_id)
        record(
            s,
            at=now,
            actor=p.username,
            action="grant-approve" if approve else "grant-reject",
            dataset=ds.name,
            project=_subject(s, g),
            purpose=g.purpose,
            detail=body.reason,
        )
        return _view(s, g, now)


def revoke(center: Center, p: Principal, grant_id: int, body: GrantDecision) -> GrantView:
    if not is_steward(p):
        raise Forbidden("only data stewards and center admins revoke access grants")
    now = center.clock()
    with center.db.transaction() as s:
        g = s.get(AccessGrant, grant_id)
        if g is None or g.state != APPROVED:
            raise NotFound(f"no approved grant {grant_id}", field="grant")
        g.state, g.reason = REVOKED, body.reason
        g.decided_by, g.decided_at = p.username, now
        ds = s.get_one(Dataset, g.dataset_id)
        record(
            s,
            at=now,
            actor=p.username,
            action="grant-revoke",
            dataset=ds.name,
            project=_subject(s, g),
            purpose=g.purpose,
            detail=body.reason,
        )
        return _view(s, g, now)


def list_grants(
    center: Center, p: Principal, *, dataset: str | None = None, state: str | None = None
) -> list[GrantView]:
    """Stewards see every grant; others the grants of their own projects."""
    now = center.clock()
    with center.db.read() as s:
        q = select(AccessGrant).order_by(AccessGrant.created_at.desc())
        if not is_steward(p):
            taught = select(Course.id).where(Course.instructor_id == p.user_id)
            taken = select(CourseStudent.course_id).where(CourseStudent.user_id == p.user_id)
            q = q.where(
                AccessGrant.project_id.in_(p.project_ids or {-1})
                | AccessGrant.course_id.in_(taught)
                | AccessGrant.course_id.in_(taken)
            )
        if dataset:
            q = q.where(AccessGrant.dataset_id == by_name(s, dataset).id)
        if state:
            q = q.where(AccessGrant.state == state)
        return [_view(s, g, now) for g in s.scalars(q)]


def _subject(s: Session, g: AccessGrant) -> str:
    """Who a grant is for, as the audit log names it: a project, or course:NAME."""
    if g.project_id is not None:
        return s.get_one(Project, g.project_id).name
    return f"course:{s.get_one(Course, g.course_id).name}"


def _view(s: Session, g: AccessGrant, now: float) -> GrantView:
    return GrantView(
        id=g.id,
        dataset=s.get_one(Dataset, g.dataset_id).name,
        project=s.get_one(Project, g.project_id).name if g.project_id is not None else "",
        course=s.get_one(Course, g.course_id).name if g.course_id is not None else "",
        state=g.state,
        live=g.state == APPROVED and g.starts_at <= now < g.ends_at,
        purpose=g.purpose,
        starts_at=g.starts_at,
        ends_at=g.ends_at,
        requested_by=g.requested_by,
        created_at=g.created_at,
        decided_by=g.decided_by,
        decided_at=g.decided_at,
        reason=g.reason,
    )
