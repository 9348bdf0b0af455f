"""Invitations: an org admin asks someone in; the one-time code makes their account.

The code is shown once, to the admin who invited; only its SHA-256 is stored (like API
tokens). Accepting needs no token, only the code, and in one transaction creates the user
in the organisation, adds the project memberships, spends the code and issues an API token.
Center admins also invite into their own organisation as reviewers or center admins.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.jobspec import NAME_RE
from aidc.core.organisations import ORG_ROLES
from aidc.core.tenancy import Principal, Role
from aidc.schemas_allocations import InvitationView, Joined
from aidc.services import auth
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.services.organisations import visible_org
from aidc.store.models import Organisation, Project, ProjectMember, User
from aidc.store.models_allocations import Invitation

INVITE_TTL_S = 7 * 86400
CODE_PREFIX = "inv_"
TOKEN_NAME = "invitation"


def invite(
    center: Center, p: Principal, org_name: str, username: str, role: str, projects: list[str]
) -> InvitationView:
    if not NAME_RE.match(username):
        raise Invalid("usernames are letters, digits, '.', '_' or '-'", field="username")
    try:
        new_role = Role(role)
    except ValueError:
        raise Invalid(
            f"unknown role {role!r}; use one of {', '.join(Role)}", field="role"
        ) from None
    code = CODE_PREFIX + secrets.token_urlsafe(32)
    now = center.clock()
    with center.db.transaction() as s:
        org = visible_org(s, p, org_name)
        _require_admin_of(p, org)
        if new_role not in ORG_ROLES and not (p.is_center_admin and org.id == p.org_id):
            raise Forbidden(
                f"invitations are for the roles {', '.join(ORG_ROLES)}; reviewers and center "
                "admins are invited by center admins into the center's own organisation",
                field="role",
            )
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists", field="username")
        pending = s.scalar(
            select(Invitation.id).where(
                Invitation.username == username,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
        )
        if pending is not None:
            raise Conflict(
                f"{username!r} already has a pending invitation ({pending}); revoke it first",
                field="username",
            )
        for name in projects:
            pid = s.scalar(select(Project.id).where(Project.name == name, Project.org_id == org.id))
            if pid is None:
                raise NotFound(f"{org.name} has no project called {name!r}", field="projects")
        inv = Invitation(
            org_id=org.id,
            username=username,
            role=new_role,
            projects=sorted(set(projects)),
            code_hash=auth.hash_token(code),
            created_by=p.user_id,
            created_at=now,
            expires_at=now + INVITE_TTL_S,
        )
        s.add(inv)
        s.flush()
        return _view(s, inv, now).model_copy(update={"code": code})


def pending(center: Center, p: Principal, org_name: str) -> list[InvitationView]:
    """The organisation's invitations not yet accepted, revoked or expired."""
    now = center.clock()
    with center.db.read() as s:
        org = visible_org(s, p, org_name)
        _require_admin_of(p, org)
        rows = s.scalars(
            select(Invitation)
            .where(
                Invitation.org_id == org.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.id)
        )
        return [_view(s, inv, now) for inv in rows]


def revoke(center: Center, p: Principal, invitation_id: int) -> InvitationView:
    now = center.clock()
    with center.db.transaction() as s:
        inv = s.get(Invitation, invitation_id)
        org = s.get(Organisation, inv.org_id) if inv is not None else None
        if inv is None or org is None or not (p.is_center_admin or p.org_id == org.id):
            raise NotFound(f"no invitation {invitation_id}", field="invitation")
        _require_admin_of(p, org)
        if inv.accepted_at is not None:
            raise Conflict("this invitation was already accepted; change the member's role instead")
        if inv.revoked_at is None:
            inv.revoked_at = now
        return _view(s, inv, now)


def accept(center: Center, code: str, username: str) -> Joined:
    """Spend the code: the user, their projects and a token, all or nothing."""
    now = center.clock()
    with center.db.transaction() as s:
        inv = s.scalars(
            select(Invitation)
            .where(Invitation.code_hash == auth.hash_token(code.strip()))
            .with_for_update()
        ).one_or_none()
        if inv is None:
            raise NotFound(
                "this invitation code is not valid; check it or ask for a new one", field="code"
            )
        if inv.accepted_at is not None:
            raise Conflict("this invitation code was already used", field="code")
        if inv.revoked_at is not None:
            raise Conflict(
                "this invitation was revoked; ask your organisation's admin for a new one",
                field="code",
            )
        if inv.expires_at <= now:
            raise Conflict(
                "this invitation has expired; ask your organisation's admin for a new one",
                field="code",
            )
        if username != inv.username:
            raise Invalid(f"this invitation is for the username {inv.username!r}", field="username")
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists", field="username")
        org = s.get(Organisation, inv.org_id)
        assert org is not None
        user = User(username=username, org_id=org.id, role=inv.role, created_at=now)
        s.add(user)
        s.flush()
        names = [str(n) for n in inv.projects]
        joined = s.scalars(
            select(Project).where(Project.name.in_(names), Project.org_id == org.id)
        ).all()
        for project in joined:
            s.add(ProjectMember(project_id=project.id, user_id=user.id))
        # The token in the same transaction as the user, so nobody is left without one.
        token = auth.add_token(s, user.id, name=TOKEN_NAME, now=now)
        inv.accepted_at = now
        return Joined(
            username=username,
            organisation=org.name,
            role=inv.role,
            projects=sorted(p.name for p in joined),
            token=token,
        )


def _require_admin_of(p: Principal, org: Organisation) -> None:
    if not (p.is_center_admin or (p.role is Role.ORG_ADMIN and p.org_id == org.id)):
        raise Forbidden("only the organisation's admins or center admins manage invitations")


def _view(s: Session, inv: Invitation, now: float) -> InvitationView:
    org = s.get(Organisation, inv.org_id)
    by = s.get(User, inv.created_by)
    assert org is not None and by is not None
    if inv.accepted_at is not None:
        status = "accepted"
    elif inv.revoked_at is not None:
        status = "revoked"
    elif inv.expires_at <= now:
        status = "expired"
    else:
        status = "pending"
    return InvitationView(
        id=inv.id,
        organisation=org.name,
        username=inv.username,
        role=inv.role,
        projects=[str(n) for n in inv.projects],
        created_by=by.username,
        created_at=inv.created_at,
        expires_at=inv.expires_at,
        status=status,
    )
