"""Dataset pages: the catalog with its filters, one dataset (card, versions, files, a
preview of public and registered data) and a file's preview. Restricted data is never
previewed or offered for download here: the services refuse it (403) and audit the try."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aidc.core.datasets import Sector, Tier
from aidc.portal import web
from aidc.portal.web import CenterDep, TDep, UserDep
from aidc.schemas_datasets import ManifestView, PreviewView
from aidc.services import datasets, datasets_grants, datasets_preview, datasets_read, tenancy
from aidc.services.datasets_access import is_steward
from aidc.services.errors import Forbidden, Invalid, ServiceError

router = APIRouter()
PREVIEWABLE = (".csv", ".tsv")
PREVIEW_ROWS = 10


@router.get("/datasets")
def catalog(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: UserDep,
    q: str = "",
    sector: str = "",
    tag: str = "",
    tier: str = "",
) -> Response:
    values = {"q": q, "sector": sector, "tag": tag, "tier": tier}
    errors: dict[str, str] = {}
    try:
        found = datasets.search(
            c,
            user.principal,
            text=q.strip() or None,
            sector=sector or None,
            tag=tag.strip() or None,
            tier=tier or None,
        )
    except Invalid as e:
        errors[e.field or "q"] = e.message
        found = []
    return web.render(
        request,
        "datasets.html",
        t,
        user,
        status=422 if errors else 200,
        found=found,
        values=values,
        errors=errors,
        sectors=[str(s) for s in Sector],
        tiers=[str(x) for x in Tier],
    )


@router.get("/datasets/{name}")
def detail(name: str, request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = user.principal
    ds = datasets.show(c, p, name)  # the card is open to every user; the bytes are not
    restricted = ds.tier == Tier.RESTRICTED
    ready = [v for v in ds.versions if v.state == "ready"]
    files: ManifestView | None = None
    shown: PreviewView | None = None
    if ready and not restricted:
        try:
            files = datasets_read.manifest(c, p, name, None)
        except Forbidden:
            files = None  # registered data, and the caller's organisation is not approved
        paths = [f.path for f in files.files] if files else []
        first = next((x for x in paths if x.lower().endswith(PREVIEWABLE)), None)
        if files and first:
            try:
                shown = datasets_preview.preview(c, p, name, files.version, first, PREVIEW_ROWS)
            except ServiceError:
                shown = None  # the page still shows the card; the preview page says why

    grants = datasets_grants.list_grants(c, p, dataset=name) if restricted else []
    return web.render(
        request,
        "dataset.html",
        t,
        user,
        ds=ds,
        restricted=restricted,
        files=files,
        preview=shown,
        grants=grants,
        projects=[x.name for x in tenancy.whoami(c, p).projects],
        may_ask=restricted and p.role.value not in ("viewer", "reviewer"),
        steward=is_steward(p),
        values={"days": "90"},
        errors={},
    )


@router.get("/datasets/{name}/preview")
def preview(
    name: str,
    request: Request,
    c: CenterDep,
    t: TDep,
    user: UserDep,
    path: str = "",
    version: int | None = None,
) -> Response:
    shown = datasets_preview.preview(c, user.principal, name, version, path, PREVIEW_ROWS)
    return web.render(request, "dataset_preview.html", t, user, dataset=name, preview=shown)
