"""/v1/organisations (details, members, roles) and /v1/invitations.

Accepting an invitation is the one call here without a token: the one-time code is the
credential, and the answer carries the new member's token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.limits import SignInLimiter
from aidc.api.params import RowId
from aidc.schemas import ErrorBody
from aidc.schemas_allocations import (
    InvitationAccept,
    InvitationCreate,
    InvitationView,
    Joined,
    MemberView,
    OrganisationCreate,
    OrganisationUpdate,
    OrganisationView,
    RoleSet,
)
from aidc.services import invitations, organisations

router = APIRouter(tags=["organisations"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422, 429)
}


@router.post("/v1/organisations", status_code=201, responses=ERRORS)
def create_organisation(
    body: OrganisationCreate, c: CenterDep, p: PrincipalDep
) -> OrganisationView:
    """Create an organisation (center admins); businesses give their registration number."""
    return organisations.create(
        c,
        p,
        body.name,
        body.kind,
        registration_number=body.registration_number,
        region=body.region,
        sector=body.sector,
    )


@router.get("/v1/organisations", responses=ERRORS)
def list_organisations(c: CenterDep, p: PrincipalDep) -> list[OrganisationView]:
    """Your organisation; every organisation for center admins and reviewers."""
    return organisations.list_organisations(c, p)


@router.get("/v1/organisations/{name}", responses=ERRORS)
def show_organisation(name: str, c: CenterDep, p: PrincipalDep) -> OrganisationView:
    return organisations.show(c, p, name)


@router.patch("/v1/organisations/{name}", responses=ERRORS)
def update_organisation(
    name: str, body: OrganisationUpdate, c: CenterDep, p: PrincipalDep
) -> OrganisationView:
    """Change registration details (its org admins, center admins; kind: center admins)."""
    return organisations.update(
        c,
        p,
        name,
        kind=body.kind,
        registration_number=body.registration_number,
        region=body.region,
        sector=body.sector,
    )


@router.get("/v1/organisations/{name}/members", responses=ERRORS)
def list_members(name: str, c: CenterDep, p: PrincipalDep) -> list[MemberView]:
    return organisations.members(c, p, name)


@router.put("/v1/organisations/{name}/members/{username}/role", responses=ERRORS)
def set_role(name: str, username: str, body: RoleSet, c: CenterDep, p: PrincipalDep) -> MemberView:
    """Make a member a member, viewer or org admin (not yourself)."""
    return organisations.set_role(c, p, name, username, body.role)


@router.post("/v1/organisations/{name}/invitations", status_code=201, responses=ERRORS)
def invite(name: str, body: InvitationCreate, c: CenterDep, p: PrincipalDep) -> InvitationView:
    """Invite a new member; the answer's ``code`` is shown this once and lasts 7 days."""
    return invitations.invite(c, p, name, body.username, body.role, body.projects)


@router.get("/v1/organisations/{name}/invitations", responses=ERRORS)
def pending_invitations(name: str, c: CenterDep, p: PrincipalDep) -> list[InvitationView]:
    """Invitations not yet accepted, revoked or expired."""
    return invitations.pending(c, p, name)


@router.delete("/v1/invitations/{invitation_id}", responses=ERRORS)
def revoke_invitation(invitation_id: RowId, c: CenterDep, p: PrincipalDep) -> InvitationView:
    return invitations.revoke(c, p, invitation_id)


@router.post("/v1/invitations/accept", status_code=201, responses=ERRORS)
def accept_invitation(body: InvitationAccept, request: Request, c: CenterDep) -> Joined:
    """Join with an invitation's code (no token needed); returns your API token, once.
    Attempts per username and address are limited (429 beyond)."""
    limiter: SignInLimiter = request.app.state.sign_in
    limiter.check(body.username, request.client.host if request.client else "")
    return invitations.accept(c, body.code, body.username)
