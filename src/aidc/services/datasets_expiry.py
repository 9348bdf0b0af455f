"""Abandoned uploads: a version still uploading ``upload_expire_s`` after it began is
dropped by the controller's periodic step. It becomes ``expired`` (which no longer counts
against the owner's storage quota), its staged bytes and whatever an interrupted commit
had moved are deleted, and an audit row says so; a later chunk or commit is answered 410.
"""

from __future__ import annotations

from sqlalchemy import select, update

from aidc.services.center import Center
from aidc.services.datasets import EXPIRED, UPLOADING
from aidc.services.datasets_audit import record
from aidc.services.datasets_place import place
from aidc.services.datasets_upload import forget_running
from aidc.store.models_datasets import Dataset, DatasetVersion


def expire_uploads(center: Center, now: float) -> list[str]:
    """Drop the uploads that began more than ``upload_expire_s`` before ``now``; the
    ``name@version`` of each."""
    if center.datasets is None:
        return []
    pl = place(center)
    cutoff = now - pl.upload_expire_s
    with center.db.transaction() as s:
        stale = s.execute(
            select(
                DatasetVersion.id, DatasetVersion.upload_id, DatasetVersion.version, Dataset.name
            )
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(DatasetVersion.state == UPLOADING, DatasetVersion.created_at < cutoff)
        ).all()
        dropped = []
        for version_id, upload_id, version, name in stale:
            # Compare-and-set: a commit that finished meanwhile keeps its version.
            moved = s.execute(
                update(DatasetVersion)
                .where(DatasetVersion.id == version_id, DatasetVersion.state == UPLOADING)
                .values(state=EXPIRED)
            )
            if not getattr(moved, "rowcount", 0):
                continue
            record(s, at=now, actor="aidc", action="upload-expire", dataset=name, version=version,
                   detail=f"not committed within {pl.upload_expire_s:g} s")  # fmt: skip
            dropped.append((upload_id, version, name))
    for upload_id, version, name in dropped:  # bytes outside the transaction
        pl.storage.delete_tree(f"staging/{upload_id}")
        pl.storage.delete_tree(f"data/{name}/{version}")
        forget_running(upload_id)
    return [f"{name}@{version}" for _, version, name in dropped]
