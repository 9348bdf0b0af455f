"""Organisations, users and projects, and what a caller can see of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.jobspec import NAME_RE
from aidc.core.organisations import registration_problem
from aidc.core.tenancy import OrgKind, Principal, Role
from aidc.schemas import ProjectView, WhoAmI
from aidc.services.center import Center
from aidc.services.errors import Conflict, Invalid, NotFound
from aidc.services.quotas import ensure_org_cohort
from aidc.store.models import Cohort, Organisation, Project, ProjectMember, User


def create_organisation(
    center: Center,
    name: str,
    kind: OrgKind | str,
    *,
    registration_number: str = "",
    region: str = "",
    sector: str = "",
    require_registration: bool = False,
) -> int:
    kind = org_kind(kind)
    problem = registration_problem(kind, registration_number, required=require_registration)
    if problem:
        raise Invalid(problem, field="registration_number")
    if not name.strip() or len(name) > 128:
        raise Invalid("an organisation's name is 1 to 128 characters", field="name")
    with center.db.transaction() as s:
        if s.scalars(select(Organisation).where(Organisation.name == name)).first():
            raise Conflict(f"organisation {name!r} already exists", field="name")
        org = Organisation(
            name=name,
            kind=kind,
            created_at=center.clock(),
            registration_number=registration_number,
            region=region,
            sector=sector,
        )
        s.add(org)
        s.flush()
        ensure_org_cohort(s, org)
        return org.id


def org_kind(kind: OrgKind | str) -> OrgKind:
    try:
        return OrgKind(kind)
    except ValueError:
        raise Invalid(
            f"unknown organisation kind {kind!r}; use one of {', '.join(OrgKind)}", field="kind"
        ) from None


def create_user(center: Center, username: str, organisation: str, role: Role | str) -> int:
    if not NAME_RE.match(username):
        raise Invalid("usernames are letters, digits, '.', '_' or '-'", field="username")
    with center.db.transaction() as s:
        org = _org(s, organisation)
        if s.scalars(select(User).where(User.username == username)).first():
            raise Conflict(f"user {username!r} already exists", field="username")
        user = User(username=username, org_id=org.id, role=Role(role), created_at=center.clock())
        s.add(user)
        s.flush()
        return user.id


def create_project(center: Center, name: str, organisation: str, members: list[str]) -> int:
    if not NAME_RE.match(name):
        raise Invalid("project names are letters, digits, '.', '_' or '-'", field="name")
    with center.db.transaction() as s:
        org = _org(s, organisation)
        if s.scalars(select(Project).where(Project.name == name)).first():
            raise Conflict(f"project {name!r} already exists", field="name")
        if s.scalars(select(Cohort.id).where(Cohort.name == name)).first():
            # Projects and cohorts are nodes of one quota tree, named uniquely across both.
            raise Conflict(f"a cohort is called {name!r}; pick another name", field="name")
        project = Project(name=name, org_id=org.id, created_at=center.clock())
        s.add(project)
        s.flush()
        for username in members:
            user = s.scalars(select(User).where(User.username == username)).one_or_none()
            if user is None:
                raise NotFound(f"no user called {username!r}", field="members")
            s.add(ProjectMember(project_id=project.id, user_id=user.id))
        return project.id


def whoami(center: Center, p: Principal) -> WhoAmI:
    with center.db.read() as s:
        org = s.get(Organisation, p.org_id)
        assert org is not None
        rows = s.execute(
            select(Project.name, Organisation.name)
            .join(Organisation, Organisation.id == Project.org_id)
            .where(Project.id.in_(p.project_ids))
            .order_by(Project.name)
        ).all()
        return WhoAmI(
            username=p.username,
            organisation=org.name,
            organisation_kind=org.kind,
            role=p.role,
            projects=[ProjectView(name=n, organisation=o) for n, o in rows],
        )


def project_accounts(center: Center) -> list[tuple[str, str, float]]:
    """Every project as (project, organisation, shares): what engines with accounts of
    their own (Slurm's sacctmgr) keep in step."""
    with center.db.read() as s:
        q = select(Project.name, Organisation.name, Project.shares).join(
            Organisation, Organisation.id == Project.org_id
        )
        return [(p, o, float(sh)) for p, o, sh in s.execute(q.order_by(Project.name))]


def _org(s: Session, name: str) -> Organisation:
    org = s.scalars(select(Organisation).where(Organisation.name == name)).one_or_none()
    if org is None:
        raise NotFound(f"no organisation called {name!r}", field="organisation")
    return org
