"""A center with a dataset catalog (local or S3 storage), tenants, a data steward, an
approved organisation, and helpers to upload folders through the services."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from aidc.core.tenancy import Principal
from aidc.schemas_datasets import DatasetCreate, FileDecl, UploadCreate, UploadView
from aidc.services import auth, datasets, datasets_upload, datasets_wiring, tenancy
from aidc.services.center import Center
from aidc.services.datasets_place import DatasetPlace
from aidc.storage import Storage
from aidc.store.models import Organisation, Project
from aidc.store.models_allocations import Allocation, Program
from tests.integration.tenants import Tenants, make_tenants

STORAGE_GB = 0.001  # Acme's allocation: 1 MB, so quota tests stay small


@dataclass
class DataTenants:
    t: Tenants
    steve: Principal  # data steward (center organisation)


@pytest.fixture
def dc(center: Center, ds_storage: Storage, tmp_path: Path) -> Center:
    datasets_wiring.install(
        center,
        where=DatasetPlace(ds_storage, default_org_storage_gb=0.0005, cache_dir=tmp_path / "cache"),
    )
    return center


@pytest.fixture
def people(dc: Center) -> DataTenants:
    t = make_tenants(dc)
    tenancy.create_user(dc, "steve", "Center", "data-steward")
    steve = auth.authenticate(dc, auth.issue_token(dc, "steve"))
    approve(dc, "Acme", STORAGE_GB)
    # Principals carry project ids read at authentication; refresh after setup.
    return DataTenants(t=t, steve=steve)


def approve(c: Center, org_name: str, storage_gb: float) -> None:
    """An active allocation for the organisation's first project (an approved org)."""
    with c.db.transaction() as s:
        org = s.query(Organisation).filter_by(name=org_name).one()
        project = s.query(Project).filter_by(org_id=org.id).first()
        assert project is not None
        prog = s.query(Program).filter_by(name="pilot").first()
        if prog is None:
            prog = Program(
                name="pilot",
                kind="allocation",
                starts_at=0,
                ends_at=4e9,
                eligible_kinds=[],
                budget_hours={},
                rules={},
                created_at=0,
                created_by="t",
            )
            s.add(prog)
            s.flush()
        s.add(
            Allocation(
                program_id=prog.id,
                project_id=project.id,
                org_id=org.id,
                kind="new",
                state="active",
                justification="",
                requested_hours={},
                requested_quota={},
                granted_storage_gb=storage_gb,
                starts_at=0,
                ends_at=4e9,
                requested_by=1,
                created_at=0,
                updated_at=0,
            )
        )


def make_dataset(
    c: Center, p: Principal, name: str, tier: str, owner: str | None = None, **kw: object
) -> None:
    datasets.create_dataset(
        c,
        p,
        DatasetCreate(
            name=name, sector=kw.pop("sector", "automotive"), tier=tier, owner=owner, **kw
        ),  # type: ignore[arg-type]
    )


def decl(files: dict[str, bytes]) -> UploadCreate:
    return UploadCreate(
        files=[
            FileDecl(path=k, size=len(v), sha256=hashlib.sha256(v).hexdigest())
            for k, v in files.items()
        ]
    )


def upload(
    c: Center, p: Principal, name: str, files: dict[str, bytes], chunk: int = 1000
) -> UploadView:
    """Declare, send in chunks, commit."""
    up = datasets_upload.start_upload(c, p, name, decl(files))
    for f in up.files:
        data = files[f.path]
        for off in range(0, len(data), chunk):
            datasets_upload.put_chunk(c, p, name, up.upload_id, f.idx, off, data[off : off + chunk])
    return datasets_upload.commit(c, p, name, up.upload_id)
