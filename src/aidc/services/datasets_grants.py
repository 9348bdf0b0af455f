"""Access grants to restricted datasets: a project's member asks (purpose, period), a data
steward approves or rejects; approved grants are live from their start to their end."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.datasets import Tier
from aidc.core.tenancy import Principal, Role
from aidc.schemas_datasets import GrantDecision, GrantRequest, GrantView
from aidc.services.center import Center
from aidc.services.datasets import by_name
from aidc.services.datasets_access import is_steward
from aidc.services.datasets_audit import record
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.store.models import Project
from aidc.store.models_datasets import AccessGrant, Dataset

REQUESTED = "requested"
APPROVED = "approved"
REJECTED = "rejected"
REVOKED = "revoked"
MAX_GRANT_S = 3 * 365 * 86400


def live_grant(s: Session, dataset_id: int, project_id: int, now: float) -> AccessGrant | None:
    return s.scalars(
        select(AccessGrant)
        .where(
            AccessGrant.dataset_id == dataset_id,
            AccessGrant.project_id == project_id,
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
    with center.db.transaction() as s:
        ds = by_name(s, body.dataset)
        if ds.tier != Tier.RESTRICTED:
            raise Invalid(f"{ds.name} is {ds.tier}; only restricted data needs a grant", "dataset")
        project = s.scalars(select(Project).where(Project.name == body.project)).first()
        if project is None or not (p.is_center_admin or project.id in p.project_ids):
            raise NotFound(f"no project {body.project!r} of yours", field="project")
        if p.role in (Role.VIEWER, Role.REVIEWER):
            raise Forbidden("viewers and reviewers do not request data access")
        g = AccessGrant(
            dataset_id=ds.id,
            project_id=project.id,
            state=REQUESTED,
            purpose=body.purpose,
            starts_at=starts,
            ends_at=body.ends_at,
            requested_by=p.username,
            created_at=now,
        )
        s.add(g)
        s.flush()
        record(
            s,
            at=now,
            actor=p.username,
            action="grant-request",
            dataset=ds.name,
            project=project.name,
            purpose=body.purpose,
        )
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
        ds, project = s.get_one(Dataset, g.dataset_id), s.get_one(Project, g.project_id)
        record(
            s,
            at=now,
            actor=p.username,
            action="grant-approve" if approve else "grant-reject",
            dataset=ds.name,
            project=project.name,
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
        ds, project = s.get_one(Dataset, g.dataset_id), s.get_one(Project, g.project_id)
        record(
            s,
            at=now,
            actor=p.username,
            action="grant-revoke",
            dataset=ds.name,
            project=project.name,
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
            q = q.where(AccessGrant.project_id.in_(p.project_ids or {-1}))
        if dataset:
            q = q.where(AccessGrant.dataset_id == by_name(s, dataset).id)
        if state:
            q = q.where(AccessGrant.state == state)
        return [_view(s, g, now) for g in s.scalars(q)]


def _view(s: Session, g: AccessGrant, now: float) -> GrantView:
    return GrantView(
        id=g.id,
        dataset=s.get_one(Dataset, g.dataset_id).name,
        project=s.get_one(Project, g.project_id).name,
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
