"""The dataset catalog: create a dataset, search and show it, and the lookups the other
dataset use cases share (a dataset by name, a version by number or the newest)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidc.core.datasets import DATASET_NAME_RE, Sector, Tier
from aidc.core.jobspec import NAME_RE
from aidc.core.tenancy import Principal, Role
from aidc.schemas_datasets import DatasetCreate, DatasetView, VersionView
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.store.models import Organisation
from aidc.store.models_datasets import Dataset, DatasetVersion

READY = "ready"
UPLOADING = "uploading"
ABORTED = "aborted"
# Not committed within AIDC_UPLOAD_EXPIRE_S: dropped by the controller (datasets_expiry).
EXPIRED = "expired"
CENTER = "center"  # the owner shown for the center's own datasets


def create_dataset(center: Center, p: Principal, body: DatasetCreate) -> DatasetView:
    """A new (empty) dataset; its data comes as versions (``datasets_upload``)."""
    if not DATASET_NAME_RE.match(body.name):
        raise Invalid(
            "dataset names are 1-63 lower-case letters, digits, '.', '_' or '-'", field="name"
        )
    tags = sorted({t.strip().lower() for t in body.tags if t.strip()})
    for t in tags:
        if not NAME_RE.match(t):
            raise Invalid(f"tag {t!r}: letters, digits, '.', '_' or '-'", field="tags")
    if p.role not in (Role.CENTER_ADMIN, Role.ORG_ADMIN, Role.MEMBER):
        raise Forbidden("only operators and organisations' admins and members create datasets")
    with center.db.transaction() as s:
        owner_id: int | None = None
        if body.owner is None or body.owner == CENTER:
            if not p.is_center_admin:
                raise Forbidden("only center admins publish datasets owned by the center")
        else:
            org = s.scalars(select(Organisation).where(Organisation.name == body.owner)).first()
            if org is None or not (p.is_center_admin or org.id == p.org_id):
                raise NotFound(f"no organisation called {body.owner!r}", field="owner")
            owner_id = org.id
        if s.scalar(select(Dataset.id).where(Dataset.name == body.name)) is not None:
            raise Conflict(f"dataset {body.name!r} already exists", field="name")
        ds = Dataset(
            name=body.name,
            title=body.title,
            owner_org_id=owner_id,
            sector=Sector(body.sector),
            tier=Tier(body.tier),
            card=body.card,
            licence=body.licence,
            tags=tags,
            created_by=p.username,
            created_at=center.clock(),
        )
        s.add(ds)
        s.flush()
        return dataset_view(s, ds)


def search(
    center: Center,
    p: Principal,
    *,
    text: str | None = None,
    sector: str | None = None,
    tag: str | None = None,
    tier: str | None = None,
) -> list[DatasetView]:
    """The catalog, filtered: ``text`` in the name or title, a sector, a tag, a tier.
    Every user sees every entry (metadata is public inside the center; bytes are not)."""
    if sector is not None and sector not in set(Sector):
        raise Invalid(f"unknown sector; use one of {', '.join(Sector)}", field="sector")
    if tier is not None and tier not in set(Tier):
        raise Invalid(f"unknown tier; use one of {', '.join(Tier)}", field="tier")
    q = select(Dataset).order_by(Dataset.name)
    if text:
        like = f"%{text.lower()}%"
        q = q.where(func.lower(Dataset.name).like(like) | func.lower(Dataset.title).like(like))
    if sector:
        q = q.where(Dataset.sector == sector)
    if tier:
        q = q.where(Dataset.tier == tier)
    with center.db.read() as s:
        found = list(s.scalars(q))
        if tag:
            found = [d for d in found if tag.lower() in d.tags]  # JSON lists: filter here
        return [dataset_view(s, d, versions=False) for d in found]


def show(center: Center, p: Principal, name: str) -> DatasetView:
    with center.db.read() as s:
        return dataset_view(s, by_name(s, name))


# -- shared lookups -----------------------------------------------------------------------


def by_name(s: Session, name: str, *, for_update: bool = False) -> Dataset:
    q = select(Dataset).where(Dataset.name == name)
    if for_update:
        q = q.with_for_update()
    ds = s.scalars(q).first()
    if ds is None:
        raise NotFound(f"no dataset called {name!r}; see aidc dataset search", field="dataset")
    return ds


def ready_version(s: Session, ds: Dataset, version: int | None) -> DatasetVersion | None:
    """Version ``version`` if it is committed (None: the newest committed one)."""
    q = select(DatasetVersion).where(
        DatasetVersion.dataset_id == ds.id, DatasetVersion.state == READY
    )
    if version is not None:
        q = q.where(DatasetVersion.version == version)
    return s.scalars(q.order_by(DatasetVersion.version.desc()).limit(1)).first()


def owner_name(s: Session, ds: Dataset) -> str:
    if ds.owner_org_id is None:
        return CENTER
    return s.get_one(Organisation, ds.owner_org_id).name


def dataset_view(s: Session, ds: Dataset, *, versions: bool = True) -> DatasetView:
    view = DatasetView(
        name=ds.name,
        title=ds.title,
        owner=owner_name(s, ds),
        sector=ds.sector,
        tier=ds.tier,
        card=ds.card,
        licence=ds.licence,
        tags=list(ds.tags),
        created_at=ds.created_at,
    )
    if versions:
        rows = s.scalars(
            select(DatasetVersion)
            .where(
                DatasetVersion.dataset_id == ds.id, DatasetVersion.state.notin_((ABORTED, EXPIRED))
            )
            .order_by(DatasetVersion.version)
        )
        view.versions = [VersionView.model_validate(v, from_attributes=True) for v in rows]
    return view
