"""Organisations as tenants see and run them: registration details, members and roles.

Center admins create organisations and see them all, as reviewers do (a review needs the
applicant's details); everyone else sees only their own organisation. Org admins keep
their organisation's details and their members' roles.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidc.core.organisations import ORG_ROLES, registration_problem
from aidc.core.tenancy import OrgKind, Principal, Role
from aidc.schemas_allocations import MemberView, OrganisationView
from aidc.services import audit, tenancy
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound
from aidc.store.models import Organisation, Project, ProjectMember, User

DETAIL_MAX = 64  # region and sector columns


def sees_all(p: Principal) -> bool:
    return p.role in (Role.CENTER_ADMIN, Role.REVIEWER)


def create(
    center: Center,
    p: Principal,
    name: str,
    kind: str,
    *,
    registration_number: str = "",
    region: str = "",
    sector: str = "",
) -> OrganisationView:
    if not p.is_center_admin:
        raise Forbidden("only center admins create organisations")
    _check_details(region=region, sector=sector)
    tenancy.create_organisation(
        center,
        name,
        kind,
        registration_number=registration_number.strip(),
        region=region.strip(),
        sector=sector.strip(),
        require_registration=True,
    )
    return show(center, p, name)


def update(
    center: Center,
    p: Principal,
    name: str,
    *,
    kind: str | None = None,
    registration_number: str | None = None,
    region: str | None = None,
    sector: str | None = None,
) -> OrganisationView:
    """Change an organisation's details: its org admins, or a center admin (also ``kind``)."""
    _check_details(region=region, sector=sector)
    with center.db.transaction() as s:
        org = visible_org(s, p, name)
        if not (p.is_center_admin or (p.role is Role.ORG_ADMIN and p.org_id == org.id)):
            raise Forbidden("only the organisation's admins or center admins change its details")
        new_kind = OrgKind(org.kind)
        if kind is not None:
            if not p.is_center_admin:
                raise Forbidden("only center admins change an organisation's kind", field="kind")
            new_kind = tenancy.org_kind(kind)
        number = org.registration_number if registration_number is None else registration_number
        problem = registration_problem(new_kind, number.strip(), required=False)
        if problem:
            raise Invalid(problem, field="registration_number")
        org.kind = new_kind
        org.registration_number = number.strip()
        if region is not None:
            org.region = region.strip()
        if sector is not None:
            org.sector = sector.strip()
    return show(center, p, name)


def list_organisations(center: Center, p: Principal) -> list[OrganisationView]:
    with center.db.read() as s:
        q = select(Organisation).order_by(Organisation.name)
        if not sees_all(p):
            q = q.where(Organisation.id == p.org_id)
        orgs = list(s.scalars(q))
        return _views(s, orgs)


def show(center: Center, p: Principal, name: str) -> OrganisationView:
    with center.db.read() as s:
        return _views(s, [visible_org(s, p, name)])[0]


def members(center: Center, p: Principal, name: str) -> list[MemberView]:
    """An organisation's users with their roles and projects (its own people, operators).
    Reviewers see organisations' details to judge requests, not who works there."""
    with center.db.read() as s:
        org = visible_org(s, p, name)
        if p.role is Role.REVIEWER and p.org_id != org.id:
            raise Forbidden("reviewers see organisations' details, not their members")
        users = list(s.scalars(select(User).where(User.org_id == org.id).order_by(User.username)))
        projects: dict[int, list[str]] = defaultdict(list)
        for uid, pname in s.execute(
            select(ProjectMember.user_id, Project.name)
            .join(Project, Project.id == ProjectMember.project_id)
            .where(ProjectMember.user_id.in_([u.id for u in users]))
            .order_by(Project.name)
        ):
            projects[uid].append(pname)
        return [
            MemberView(
                username=u.username, role=u.role, projects=projects[u.id], created_at=u.created_at
            )
            for u in users
        ]


def set_role(center: Center, p: Principal, name: str, username: str, role: str) -> MemberView:
    """An org admin makes a member of their organisation a member, viewer or org admin."""
    try:
        new = Role(role)
    except ValueError:
        raise Invalid(
            f"unknown role {role!r}; use one of {', '.join(Role)}", field="role"
        ) from None
    with center.db.transaction() as s:
        org = visible_org(s, p, name)
        if not (p.is_center_admin or (p.role is Role.ORG_ADMIN and p.org_id == org.id)):
            raise Forbidden("only the organisation's admins or center admins change roles")
        if new not in ORG_ROLES and not p.is_center_admin:
            raise Forbidden(
                f"org admins give the roles {', '.join(ORG_ROLES)}; {new} is for center admins "
                "to give",
                field="role",
            )
        user = s.scalars(
            select(User).where(User.username == username, User.org_id == org.id)
        ).one_or_none()
        if user is None:
            raise NotFound(f"{org.name} has no member called {username!r}", field="username")
        if user.id == p.user_id:
            raise Forbidden("you cannot change your own role; ask another admin", field="username")
        if Role(user.role) not in ORG_ROLES and not p.is_center_admin:
            raise Forbidden(f"{username} is a {user.role}; only center admins change that role")
        audit.record(
            s,
            at=center.clock(),
            actor=p.username,
            action="role.changed",
            target_kind="user",
            target=username,
            org_id=org.id,
            before=str(user.role),
            after=str(new),
        )
        user.role = new
    return next(m for m in members(center, p, name) if m.username == username)


def visible_org(s: Session, p: Principal, name: str) -> Organisation:
    """The organisation called ``name`` if ``p`` may see it (else NotFound, like absence)."""
    org = s.scalars(select(Organisation).where(Organisation.name == name)).one_or_none()
    if org is None or not (sees_all(p) or org.id == p.org_id):
        raise NotFound(f"no organisation called {name!r}", field="organisation")
    return org


def _views(s: Session, orgs: list[Organisation]) -> list[OrganisationView]:
    ids = [o.id for o in orgs]
    counts = dict(
        s.execute(
            select(User.org_id, func.count()).where(User.org_id.in_(ids)).group_by(User.org_id)
        ).all()
    )
    projects: dict[int, list[str]] = defaultdict(list)
    for oid, pname in s.execute(
        select(Project.org_id, Project.name).where(Project.org_id.in_(ids)).order_by(Project.name)
    ):
        projects[oid].append(pname)
    return [
        OrganisationView(
            name=o.name,
            kind=o.kind,
            registration_number=o.registration_number,
            region=o.region,
            sector=o.sector,
            created_at=o.created_at,
            members=int(counts.get(o.id, 0)),
            projects=projects[o.id],
        )
        for o in orgs
    ]


def _check_details(**values: str | None) -> None:
    for field, value in values.items():
        if value is not None and len(value) > DETAIL_MAX:
            raise Invalid(f"{field} is at most {DETAIL_MAX} characters", field=field)
