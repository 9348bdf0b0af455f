"""Request and response models of organisations, invitations, programs and allocations.

Times are POSIX seconds; hours are per resource: an accelerator type's accelerator-hours
or "pf" for PF-hours. Quotas are concurrent devices per accelerator type.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# -- organisations and members ----------------------------------------------------------


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    registration_number: str = ""  # NNN-NN-NNNNN; required for startup, sme, enterprise
    region: str = ""
    sector: str = ""


class OrganisationUpdate(BaseModel):
    """Fields left out stay as they are; ``kind`` only center admins change."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    registration_number: str | None = None
    region: str | None = None
    sector: str | None = None


class OrganisationView(BaseModel):
    name: str
    kind: str
    registration_number: str
    region: str
    sector: str
    created_at: float
    members: int
    projects: list[str]


class MemberView(BaseModel):
    username: str
    role: str
    projects: list[str]
    created_at: float


class RoleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str
    role: str = "member"
    projects: list[str] = []


class InvitationView(BaseModel):
    id: int
    organisation: str
    username: str
    role: str
    projects: list[str]
    created_by: str
    created_at: float
    expires_at: float
    status: str  # pending | accepted | revoked | expired
    # The one-time code: only in the answer to the invitation itself, never again.
    code: str | None = None


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    username: str


class Joined(BaseModel):
    """A new member, and the API token to use from now on (shown once)."""

    username: str
    organisation: str
    role: str
    projects: list[str]
    token: str


# -- programs -----------------------------------------------------------------------------


class ProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = "allocation"  # allocation | education
    description: str = ""
    starts_at: float
    ends_at: float
    eligible_kinds: list[str] = []  # empty: every kind
    budget_hours: dict[str, float]
    storage_budget_gb: float = 0.0
    # required_approvals (1), max_hours (resource -> hours), on_exhausted (hold)
    rules: dict[str, object] = {}


class ProgramView(BaseModel):
    name: str
    kind: str
    description: str
    starts_at: float
    ends_at: float
    eligible_kinds: list[str]
    budget_hours: dict[str, float]
    granted_hours: dict[str, float]
    remaining_hours: dict[str, float]
    storage_budget_gb: float
    granted_storage_gb: float
    required_approvals: int
    max_hours: dict[str, float]
    on_exhausted: str
    created_at: float
    created_by: str


# -- allocations --------------------------------------------------------------------------


class AllocationAsk(BaseModel):
    """What an organisation asks for; the base of new requests, renewals and changes."""

    model_config = ConfigDict(extra="forbid")

    justification: str
    hours: dict[str, float]
    quota: dict[str, float] = {}
    storage_gb: float = 0.0
    starts_at: float
    ends_at: float


class AllocationCreate(AllocationAsk):
    project: str
    program: str


class RenewalCreate(AllocationAsk):
    program: str | None = None  # default: the renewed allocation's program


class ChangeCreate(BaseModel):
    """More hours (added to the parent's), a new quota per type, a later end, more storage."""

    model_config = ConfigDict(extra="forbid")

    justification: str
    hours: dict[str, float] = {}
    quota: dict[str, float] = {}
    storage_gb: float = 0.0
    ends_at: float | None = None


class Amend(BaseModel):
    """A resubmission; fields left out stay as asked before."""

    model_config = ConfigDict(extra="forbid")

    reason: str = ""
    justification: str | None = None
    hours: dict[str, float] | None = None
    quota: dict[str, float] | None = None
    storage_gb: float | None = None
    starts_at: float | None = None
    ends_at: float | None = None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


class Approval(Decision):
    """Grant what was asked, or less: fields left out grant the request in full."""

    hours: dict[str, float] | None = None
    quota: dict[str, float] | None = None
    storage_gb: float | None = None


class AllocationView(BaseModel):
    id: int
    program: str
    project: str
    organisation: str
    kind: str  # new | renewal | change
    parent_id: int | None
    state: str
    justification: str
    requested_hours: dict[str, float]
    requested_quota: dict[str, float]
    requested_storage_gb: float
    granted_hours: dict[str, float] | None
    granted_quota: dict[str, float] | None
    granted_storage_gb: float | None
    starts_at: float
    ends_at: float
    requested_by: str
    approvals: list[str]  # who approved it in this round of review
    required_approvals: int
    created_at: float
    updated_at: float


class AllocationEventView(BaseModel):
    at: float
    actor: str
    action: str
    from_state: str | None
    to_state: str
    reason: str
    details: dict[str, object]
