"""Validation pages: the list, the run form (model upload, dataset, accelerator types,
scenarios, targets), one validation with its runs, the comparison and the shares, and
the report's download (HTML or PDF)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from aidc.core.validation_targets import METRICS, SCENARIOS
from aidc.portal import web
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.schemas_validation import ShareCreate, ValidationCreate
from aidc.services import (
    tenancy,
    validations,
    validations_compare,
    validations_read,
    validations_report,
    validations_share,
)
from aidc.services.errors import Invalid
from aidc.services.portal_sessions import SessionUser
from aidc.services.validations_read import may_manage, readable
from aidc.settings import Settings

router = APIRouter()
FORM_FIELDS = ("project", "dataset", "metric", "accelerators", "targets", "name")


@router.get("/validations")
def list_page(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    found = validations_read.list_validations(c, user.principal)
    return web.render(request, "validations.html", t, user, found=found)


@router.get("/validations/new")
def new_page(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    values = {"metric": "top1", "accelerators": "cpu"}
    return _form(request, c, t, user, values=values, scenarios=list(SCENARIOS), errors={})


def _form(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: SessionUser,
    *,
    values: dict[str, str],
    scenarios: list[str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    projects = [x.name for x in tenancy.whoami(c, user.principal).projects]
    return web.render(
        request,
        "validation_new.html",
        t,
        user,
        status=status,
        projects=projects,
        metrics=list(METRICS),
        all_scenarios=list(SCENARIOS),
        scenarios=scenarios,
        values=values,
        errors=errors,
    )


@router.post("/validations")
async def run(request: Request, c: CenterDep, t: TDep, user: FormUserDep) -> Response:
    form = await request.form(max_files=1, max_part_size=1024 * 1024)
    values = {k: str(form.get(k) or "").strip() for k in FORM_FIELDS}
    scenarios = [str(s) for s in form.getlist("scenarios")]
    model = form.get("model")
    try:
        if not isinstance(model, UploadFile) or not model.filename:
            raise Invalid("choose the model file (.onnx)", field="model")
        body = ValidationCreate(
            project=values["project"],
            dataset=values["dataset"],
            metric=values["metric"] or "top1",
            accelerators=[a for a in values["accelerators"].replace(" ", "").split(",") if a],
            scenarios=scenarios,
            targets=[x.strip() for x in values["targets"].splitlines() if x.strip()],
            name=values["name"] or None,
        )
        data = await model.read(validations.MAX_MODEL_BYTES + 1)
        settings: Settings = request.app.state.parent.state.settings
        file = validations.ModelFile(file_name=model.filename, data=data)
        harness = validations.harness_argv(settings.validation_harness)
        v = await run_in_threadpool(validations.create, c, user.principal, body, file, harness)
    except ValidationError as e:
        errors = {str(x["loc"][0]): x["msg"] for x in reversed(e.errors())}
        return _form(request, c, t, user, values=values, scenarios=scenarios, errors=errors,
                     status=422)  # fmt: skip
    except Invalid as e:
        errors = {e.field or "project": e.message}
        return _form(request, c, t, user, values=values, scenarios=scenarios, errors=errors,
                     status=422)  # fmt: skip
    return web.redirect(f"/validations/{v.id}")


@router.get("/validations/{validation_id}")
def detail(validation_id: str, request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    return web.render(request, "validation.html", t, user, **_context(c, user, validation_id))


def _context(c: CenterDep, user: SessionUser, validation_id: str) -> dict[str, Any]:
    p = user.principal
    v = validations_read.show(c, p, validation_id)
    with c.db.read() as s:
        manage = may_manage(p, readable(s, p, validation_id))
    return {
        "v": v,
        "cmp": validations_compare.compare(c, p, validation_id),
        "manage": manage,
        "shares": validations_share.list_shares(c, p, validation_id) if manage else [],
    }


@router.get("/validations/{validation_id}/report")
def report(
    validation_id: str, c: CenterDep, user: UserDep, format: Literal["html", "pdf"] = "html"
) -> Response:
    name = f"validation-{validation_id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "pdf":
        body = validations_report.pdf(c, user.principal, validation_id)
        return Response(body, media_type="application/pdf", headers=headers)
    text = validations_report.html(c, user.principal, validation_id)
    return Response(text, media_type="text/html; charset=utf-8", headers=headers)


@router.post("/validations/{validation_id}/shares")
async def share(validation_id: str, request: Request, c: CenterDep, user: FormUserDep) -> Response:
    form = await request.form()
    who = str(form.get("with") or "").strip()
    kind = str(form.get("kind") or "organisation")
    if not who:
        raise Invalid("name the organisation or user to share with", field="with")
    body = ShareCreate(organisation=who) if kind == "organisation" else ShareCreate(user=who)
    validations_share.share(c, user.principal, validation_id, body)
    return web.redirect(f"/validations/{validation_id}")


@router.post("/validations/{validation_id}/shares/{share_id}/revoke")
def revoke(validation_id: str, share_id: str, c: CenterDep, user: FormUserDep) -> Response:
    validations_share.revoke(c, user.principal, validation_id, share_id)
    return web.redirect(f"/validations/{validation_id}")
