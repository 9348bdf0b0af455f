"""Organisations, roles and who may do what to whose jobs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrgKind(StrEnum):
    STARTUP = "startup"
    SME = "sme"
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research-institute"
    PUBLIC = "public"


class Role(StrEnum):
    """A user's role. center-admin operates the whole center; the rest act in their org."""

    CENTER_ADMIN = "center-admin"
    # Reviews allocation requests for programs; sees what a review needs, runs no jobs.
    REVIEWER = "reviewer"
    # Decides access to restricted datasets and releases what leaves the airlock; runs no jobs.
    DATA_STEWARD = "data-steward"
    ORG_ADMIN = "org-admin"
    MEMBER = "member"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as the services see it."""

    user_id: int
    username: str
    org_id: int
    org_name: str
    role: Role
    project_ids: frozenset[int]

    @property
    def is_center_admin(self) -> bool:
        return self.role is Role.CENTER_ADMIN


def can_submit(p: Principal, project_id: int) -> bool:
    """Members and org admins submit to projects they belong to; viewers and reviewers
    never submit."""
    if p.role in (Role.VIEWER, Role.REVIEWER, Role.DATA_STEWARD):
        return False
    return p.is_center_admin or project_id in p.project_ids


def can_read_job(p: Principal, project_id: int, project_org_id: int) -> bool:
    """A job is visible to its project's members, its organisation's admins, and operators."""
    if p.is_center_admin or project_id in p.project_ids:
        return True
    return p.role is Role.ORG_ADMIN and p.org_id == project_org_id


def can_cancel_job(p: Principal, owner_id: int, project_id: int, project_org_id: int) -> bool:
    """The owner, an admin of the job's organisation, or an operator may cancel a job."""
    if p.is_center_admin or p.user_id == owner_id:
        return True
    return p.role is Role.ORG_ADMIN and p.org_id == project_org_id
