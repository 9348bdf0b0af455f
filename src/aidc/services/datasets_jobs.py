"""Datasets that jobs declare: checked at submission (the dataset and version exist, the
caller's organisation may read the tier, restricted data has a live grant for the job's
project), and the version pinned so that every run of the job reads the same bytes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.datasets import DatasetMount, Tier
from aidc.core.jobspec import JobSpec
from aidc.core.tenancy import Principal
from aidc.services.center import Center
from aidc.services.datasets import by_name, ready_version
from aidc.services.datasets_access import bytes_refusal, is_steward
from aidc.services.datasets_audit import refuse
from aidc.services.datasets_grants import live_grant
from aidc.services.errors import Invalid, NotFound
from aidc.store.models import Project
from aidc.store.models_datasets import Dataset


def check_submit(center: Center, p: Principal, spec: JobSpec) -> JobSpec:
    """``spec`` with each dataset's version pinned, or a refusal (audited for access)."""
    if not spec.datasets:
        return spec
    pinned: list[DatasetMount] = []
    names = [m.name for m in spec.datasets]
    if len(set(names)) != len(names):
        raise Invalid("a dataset is named twice", field="datasets")
    if len({m.path for m in spec.datasets}) != len(spec.datasets):
        raise Invalid("two datasets are mounted at the same path", field="datasets")
    now = center.clock()
    for m in spec.datasets:
        with center.db.read() as s:
            try:
                ds = by_name(s, m.name)
            except NotFound as e:
                raise Invalid(e.message, field="datasets") from None
            project_id = s.scalar(select(Project.id).where(Project.name == spec.project))
            why = _refusal(s, p, ds.id, ds.tier, project_id, now)
            if why is None and ds.tier != Tier.RESTRICTED:
                why = bytes_refusal(s, p, ds)
            v = ready_version(s, ds, m.version)
        if why is not None:
            refuse(center, p, "submit", m.name, why, version=m.version, project=spec.project)
        if v is None:
            raise Invalid(f"{m.name} has no committed version {m.version or ''}", "datasets")
        pinned.append(m.model_copy(update={"version": v.version}))
    return spec.model_copy(update={"datasets": pinned})


def _refusal(
    s: Session, p: Principal, dataset_id: int, tier: str, project_id: int | None, now: float
) -> str | None:
    if tier != Tier.RESTRICTED:
        return None
    if project_id is None or live_grant(s, dataset_id, project_id, now) is None:
        return "the project has no live access grant to this restricted dataset"
    return None


def check_log_read(center: Center, p: Principal, job_id: str, spec: dict[str, Any]) -> None:
    """A job that read restricted data may have printed it: its log is for stewards only,
    like its outputs before release (refusals audited)."""
    names = [m.get("name") for m in spec.get("datasets") or []]
    if not names or is_steward(p):
        return
    with center.db.read() as s:
        restricted = s.scalars(
            select(Dataset.name).where(Dataset.name.in_(names), Dataset.tier == Tier.RESTRICTED)
        ).first()
    if restricted is not None:
        refuse(
            center,
            p,
            "log",
            restricted,
            f"job {job_id} read restricted data ({restricted}); its log stays inside the "
            "center (center admins can read it; write results to $AIDC_OUTPUT_DIR, which a "
            "data steward reviews)",
        )
