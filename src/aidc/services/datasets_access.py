"""Who may do what with a dataset. Metadata (the catalog, cards) is for every user; bytes
follow the tier: public for everyone, registered for members of approved organisations
(an active allocation), restricted for nobody through the API: only jobs of projects with
a live grant read them, inside the center."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.datasets import Tier
from aidc.core.tenancy import Principal, Role
from aidc.services.grants import AllocationState
from aidc.store.models_allocations import Allocation
from aidc.store.models_datasets import Dataset


def is_steward(p: Principal) -> bool:
    """Data stewards and operators decide grants and releases and read the audit log."""
    return p.is_center_admin or p.role is Role.DATA_STEWARD


def may_manage(p: Principal, ds: Dataset) -> bool:
    """Upload versions and edit the card: operators, and the owning organisation's admins
    and members (center-owned datasets: operators only)."""
    if p.is_center_admin:
        return True
    if ds.owner_org_id is None or ds.owner_org_id != p.org_id:
        return False
    return p.role in (Role.ORG_ADMIN, Role.MEMBER)


def org_is_approved(s: Session, org_id: int) -> bool:
    return (
        s.scalar(
            select(Allocation.id)
            .where(Allocation.org_id == org_id, Allocation.state == AllocationState.ACTIVE)
            .limit(1)
        )
        is not None
    )


def bytes_refusal(s: Session, p: Principal, ds: Dataset) -> str | None:
    """Why ``p`` may not read ``ds``'s bytes over the API, or None when they may."""
    if ds.tier == Tier.RESTRICTED:
        return (
            f"{ds.name} is restricted: its data never leaves the center; read it in a job "
            "of a project with an access grant (aidc dataset grant request)"
        )
    if ds.tier == Tier.REGISTERED:
        if p.is_center_admin or ds.owner_org_id == p.org_id or org_is_approved(s, p.org_id):
            return None
        return (
            f"{ds.name} is for registered users: members of organisations with an active allocation"
        )
    return None
