"""The matrix world's datasets, environments and notebook sessions, per tenant.

Each tenant owns a public, a registered and a restricted dataset, each with one committed
version (``data.csv``), and an open upload of the public one's next version; its project
asks for a grant on the center's restricted dataset; its org admin records an environment
and its member starts a notebook session (a starting one: no JupyterLab runs; the proxy
answers its owner 503).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aidc.core.tenancy import Principal
from aidc.schemas_datasets import DatasetCreate, FileDecl, GrantRequest, UploadCreate
from aidc.schemas_notebooks import EnvironmentCreate, NotebookStart
from aidc.services import (
    datasets,
    datasets_grants,
    datasets_upload,
    datasets_wiring,
    environments,
    notebooks,
)
from aidc.services.center import Center
from aidc.services.datasets_place import DatasetPlace
from aidc.settings import Settings
from aidc.storage import storage_from_url

CENTER_RESTRICTED = "res-center"  # what every grant request in the matrix asks for
CSV = b"a,b\n1,2\n"
CHUNK = b"x"  # the open upload's one file, sent by the PUT chunk cells


def wire_datasets(c: Center, home: Path) -> None:
    """Dataset storage under ``home`` (every cell's center shares the same bytes)."""
    storage = storage_from_url(str(home / "datasets"))
    datasets_wiring.install(c, where=DatasetPlace(storage, cache_dir=home / "dataset-cache"))


def center_datasets(c: Center, root: Principal) -> None:
    body = DatasetCreate(name=CENTER_RESTRICTED, sector="public", tier="restricted")
    datasets.create_dataset(c, root, body)


def tenant_objects(
    c: Center,
    settings: Settings,
    target: str,
    org: str,
    project: str,
    admin: Principal,
    member: Principal,
) -> dict[str, str]:
    t = target.lower()
    pub, reg, res = f"pub-{t}", f"reg-{t}", f"res-{t}"
    sha = hashlib.sha256(CSV).hexdigest()
    for name, tier in ((pub, "public"), (reg, "registered"), (res, "restricted")):
        body = DatasetCreate(name=name, owner=org, sector="public", tier=tier)
        datasets.create_dataset(c, member, body)
        files = [FileDecl(path="data.csv", size=len(CSV), sha256=sha)]
        first = datasets_upload.start_upload(c, member, name, UploadCreate(files=files))
        datasets_upload.put_chunk(c, member, name, first.upload_id, 0, 0, CSV)
        datasets_upload.commit(c, member, name, first.upload_id, None)
    more = FileDecl(path="more.csv", size=len(CHUNK), sha256=hashlib.sha256(CHUNK).hexdigest())
    upload = datasets_upload.start_upload(c, member, pub, UploadCreate(files=[more]))
    grant = datasets_grants.request_grant(
        c,
        member,
        GrantRequest(
            dataset=CENTER_RESTRICTED, project=project, purpose="a study", ends_at=1_850_000_000.0
        ),
    )
    environments.create(c, settings, admin, EnvironmentCreate(name=f"env-{t}"))
    session = notebooks.start(c, settings, member, NotebookStart(project=project))
    return {
        "dataset": pub,
        "registered": reg,
        "restricted": res,
        "grant_dataset": CENTER_RESTRICTED,
        "upload_id": upload.upload_id,
        "grant_id": str(grant.id),
        "environment": f"env-{t}",
        "session_id": session.id,
    }
