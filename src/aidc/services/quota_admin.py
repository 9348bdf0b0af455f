"""Center-admin use cases on the quota tree: cohorts, their parents, quotas and shares.

Each public function checks the role, validates (naming the field at fault) and writes in
one transaction. The session-level helpers below them are what the demo seeding reuses.
"""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.jobspec import NAME_RE
from aidc.core.tenancy import Principal
from aidc.scheduler.snapshot import QuotaLimit
from aidc.schemas import CohortView, ProjectShares, QuotaView
from aidc.services import quota_views
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.services.quotas import RESOURCES, CohortKind, OwnerKind
from aidc.store.models import Cohort, Project, Quota


def create_cohort(
    center: Center,
    p: Principal,
    name: str,
    *,
    kind: CohortKind | str = CohortKind.PROGRAM,
    parent: str | None = None,
) -> CohortView:
    _require_center_admin(p)
    with center.db.transaction() as s:
        add_cohort(s, name, kind=kind, parent=parent, at=center.clock())
    return _cohort_view(center, p, name)


def set_parent(center: Center, p: Principal, name: str, parent: str | None) -> CohortView:
    """Move cohort ``name`` under program ``parent`` (None: to the root)."""
    _require_center_admin(p)
    with center.db.transaction() as s:
        move_cohort(s, name, parent)
    return _cohort_view(center, p, name)


def set_quota(
    center: Center,
    p: Principal,
    *,
    resource: str,
    nominal: float,
    project: str | None = None,
    cohort: str | None = None,
    borrowing_limit: float | None = None,
    lending_limit: float | None = None,
) -> QuotaView:
    """Set (replace) one resource of a project's or a cohort's quota."""
    _require_center_admin(p)
    limit = QuotaLimit(nominal, borrowing_limit, lending_limit)
    with center.db.transaction() as s:
        kind, owner_id = _owner(s, project, cohort)
        put_quota(s, kind, owner_id, resource, limit, at=center.clock())
    name = project if kind is OwnerKind.PROJECT else cohort
    return next(
        v
        for v in quota_views.list_quotas(center, p)
        if (v.owner_kind, v.owner, v.resource) == (kind, name, resource)
    )


def clear_quota(
    center: Center,
    p: Principal,
    *,
    resource: str,
    project: str | None = None,
    cohort: str | None = None,
) -> None:
    """Remove one resource of a quota: the owner then has no guarantee for it."""
    _require_center_admin(p)
    with center.db.transaction() as s:
        kind, owner_id = _owner(s, project, cohort)
        row = s.scalars(
            select(Quota).where(
                Quota.owner_kind == kind, Quota.owner_id == owner_id, Quota.resource == resource
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"no {resource!r} quota for {project or cohort!r}", field="resource")
        s.delete(row)


def set_shares(center: Center, p: Principal, project: str, shares: float) -> ProjectShares:
    """Set a project's fair-share weight."""
    _require_center_admin(p)
    if not math.isfinite(shares) or shares <= 0:
        # Zero would divide by zero in fair share; a project with no claim gets a tiny weight.
        raise Invalid("shares must be a positive number", field="shares")
    with center.db.transaction() as s:
        row = s.scalars(select(Project).where(Project.name == project)).one_or_none()
        if row is None:
            raise NotFound(f"no project called {project!r}", field="project")
        row.shares = shares
    return ProjectShares(project=project, shares=shares)


# -- session-level helpers ----------------------------------------------------------------


def add_cohort(
    s: Session, name: str, *, kind: CohortKind | str, parent: str | None, at: float
) -> Cohort:
    if not NAME_RE.match(name):
        raise Invalid("cohort names are letters, digits, '.', '_' or '-'", field="name")
    if kind != CohortKind.PROGRAM:
        raise Invalid(
            "only program cohorts are created here; an organisation gets its own cohort "
            "when it is created",
            field="kind",
        )
    if s.scalar(select(Cohort.id).where(Cohort.name == name)) is not None:
        raise Conflict(f"cohort {name!r} already exists", field="name")
    if s.scalar(select(Project.id).where(Project.name == name)) is not None:
        # Projects and cohorts are nodes of one tree, named uniquely across both.
        raise Conflict(f"a project is called {name!r}; pick another name", field="name")
    parent_id = _parent(s, parent).id if parent is not None else None
    cohort = Cohort(name=name, kind=CohortKind.PROGRAM, parent_id=parent_id, created_at=at)
    s.add(cohort)
    s.flush()
    return cohort


def move_cohort(s: Session, name: str, parent: str | None) -> Cohort:
    # Lock every cohort (few rows): two concurrent moves could otherwise each pass the cycle
    # check against the old tree and make a cycle together on PostgreSQL.
    rows = s.execute(select(Cohort.id, Cohort.name, Cohort.parent_id).with_for_update()).all()
    parents = {cid: par for cid, _, par in rows}
    names = {cid: n for cid, n, _ in rows}
    cohort = s.scalars(select(Cohort).where(Cohort.name == name)).one_or_none()
    if cohort is None:
        raise NotFound(f"no cohort called {name!r}", field="name")
    if parent is None:
        cohort.parent_id = None
        return cohort
    target = _parent(s, parent)
    # Walk up from the new parent: meeting the cohort itself means it would be its own ancestor.
    chain: list[int] = []
    at: int | None = target.id
    while at is not None and at not in chain:
        chain.append(at)
        at = parents.get(at)
    if target.id == cohort.id:
        raise Invalid(f"cohort {name!r} cannot be its own parent", field="parent")
    if cohort.id in chain:
        path = " -> ".join(names[c] for c in chain[: chain.index(cohort.id) + 1])
        raise Invalid(
            f"{parent!r} is inside {name!r} (parents: {path}); moving {name!r} under it "
            "would make a cycle",
            field="parent",
        )
    cohort.parent_id = target.id
    return cohort


def put_quota(
    s: Session, kind: OwnerKind, owner_id: int, resource: str, limit: QuotaLimit, *, at: float
) -> Quota:
    check_limit(resource, limit)
    row = s.scalars(
        select(Quota).where(
            Quota.owner_kind == kind, Quota.owner_id == owner_id, Quota.resource == resource
        )
    ).one_or_none()
    if row is None:
        row = Quota(owner_kind=kind, owner_id=owner_id, resource=resource)
        s.add(row)
    row.nominal = limit.nominal
    row.borrowing_limit = limit.borrowing_limit
    row.lending_limit = limit.lending_limit
    row.updated_at = at
    s.flush()
    return row


def check_limit(resource: str, limit: QuotaLimit) -> None:
    """Refuse an unknown resource, negative or non-finite numbers, lending above nominal."""
    if resource not in RESOURCES:
        raise Invalid(
            f"unknown resource {resource!r}; use one of {', '.join(RESOURCES)}", field="resource"
        )
    for field in ("nominal", "borrowing_limit", "lending_limit"):
        value = getattr(limit, field)
        if value is not None and (not math.isfinite(value) or value < 0):
            raise Invalid(f"{field} must be a number >= 0", field=field)
    if limit.lending_limit is not None and limit.lending_limit > limit.nominal:
        raise Invalid(
            f"lending_limit ({limit.lending_limit:g}) cannot exceed nominal "
            f"({limit.nominal:g}): only the quota's own unused part can be lent",
            field="lending_limit",
        )


def _require_center_admin(p: Principal) -> None:
    if not p.is_center_admin:
        raise Forbidden("only center admins can change cohorts, quotas and shares")


def _owner(s: Session, project: str | None, cohort: str | None) -> tuple[OwnerKind, int]:
    if (project is None) == (cohort is None):
        raise Invalid("give exactly one of a project or a cohort", field="project")
    if project is not None:
        pid = s.scalar(select(Project.id).where(Project.name == project))
        if pid is None:
            raise NotFound(f"no project called {project!r}", field="project")
        return OwnerKind.PROJECT, pid
    cid = s.scalar(select(Cohort.id).where(Cohort.name == cohort))
    if cid is None:
        raise NotFound(f"no cohort called {cohort!r}", field="cohort")
    return OwnerKind.COHORT, cid


def _parent(s: Session, name: str) -> Cohort:
    parent = s.scalars(select(Cohort).where(Cohort.name == name)).one_or_none()
    if parent is None:
        raise Invalid(f"no cohort called {name!r} to be the parent", field="parent")
    if parent.kind != CohortKind.PROGRAM:
        # An organisation's cohort holds its projects; programs group organisations.
        raise Invalid(f"cohort {name!r} is an organisation; parents are programs", field="parent")
    return parent


def _cohort_view(center: Center, p: Principal, name: str) -> CohortView:
    return next(c for c in quota_views.list_cohorts(center, p) if c.name == name)
