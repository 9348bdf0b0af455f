"""An organisation's dataset storage: what it holds (dataset versions being uploaded or
committed, and its projects' airlocked outputs) against what it may hold (the storage its
active allocations grant; without one, the center's default)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal
from aidc.schemas_datasets import StorageView
from aidc.services.center import Center
from aidc.services.datasets_place import GB, place
from aidc.services.errors import Forbidden, NotFound
from aidc.services.grants import AllocationState
from aidc.store.models import Organisation, Project
from aidc.store.models_allocations import Allocation
from aidc.store.models_datasets import AirlockOutput, Dataset, DatasetVersion

HOLDING_VERSIONS = ("uploading", "ready")
HOLDING_OUTPUTS = ("held", "released")


def used_bytes(s: Session, org_id: int) -> int:
    versions = s.scalar(
        select(func.coalesce(func.sum(DatasetVersion.total_bytes), 0))
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.owner_org_id == org_id, DatasetVersion.state.in_(HOLDING_VERSIONS))
    )
    outputs = s.scalar(
        select(func.coalesce(func.sum(AirlockOutput.total_bytes), 0))
        .join(Project, Project.id == AirlockOutput.project_id)
        .where(Project.org_id == org_id, AirlockOutput.state.in_(HOLDING_OUTPUTS))
    )
    return int(versions or 0) + int(outputs or 0)


def limit_bytes(s: Session, org_id: int, default_gb: float) -> int:
    rows = list(
        s.scalars(
            select(Allocation.granted_storage_gb).where(
                Allocation.org_id == org_id, Allocation.state == AllocationState.ACTIVE
            )
        )
    )
    if not rows:
        return int(default_gb * GB)
    return int(sum(r or 0.0 for r in rows) * GB)


def over_quota(s: Session, org_id: int | None, extra: int, default_gb: float) -> str | None:
    """Why storing ``extra`` more bytes for the organisation would break its quota."""
    if org_id is None:
        return None  # the center's own datasets
    used, limit = used_bytes(s, org_id), limit_bytes(s, org_id, default_gb)
    if used + extra <= limit:
        return None
    return (
        f"the organisation's dataset storage would exceed its quota: {used:,} bytes used "
        f"+ {extra:,} new > {limit:,} allowed (storage comes with an allocation)"
    )


def storage(center: Center, p: Principal, organisation: str | None) -> StorageView:
    default = place(center).default_org_storage_gb
    with center.db.read() as s:
        org = (
            s.get_one(Organisation, p.org_id)
            if organisation is None
            else s.scalars(select(Organisation).where(Organisation.name == organisation)).first()
        )
        if org is None or not (p.is_center_admin or org.id == p.org_id):
            raise NotFound(f"no organisation called {organisation!r}", field="organisation")
        if not (p.is_center_admin or org.id == p.org_id):
            raise Forbidden("you see your own organisation's storage")
        return StorageView(
            organisation=org.name,
            used_bytes=used_bytes(s, org.id),
            limit_bytes=limit_bytes(s, org.id, default),
        )
