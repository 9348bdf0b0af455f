"""/v1/validations: run a model through the validation harness on accelerator types,
read the runs and their verified results, compare, export reports, share them."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody
from aidc.schemas_validation import (
    CompareView,
    ShareCreate,
    ShareView,
    ValidationCreate,
    ValidationView,
    VerifyView,
)
from aidc.services import (
    validations,
    validations_compare,
    validations_read,
    validations_report,
    validations_share,
)
from aidc.services.errors import Invalid
from aidc.settings import Settings

router = APIRouter(prefix="/v1/validations", tags=["validations"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}


_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["spec", "model"],
                    "properties": {
                        "spec": {"type": "string", "description": "ValidationCreate as JSON."},
                        "model": {"type": "string", "format": "binary"},
                    },
                }
            }
        },
    }
}


@router.post("", responses=ERRORS, status_code=201, openapi_extra=_MULTIPART)
async def create(request: Request, c: CenterDep, p: PrincipalDep) -> ValidationView:
    """Keep the model (multipart ``model``) and submit one harness job per accelerator
    type, as ``spec`` (ValidationCreate as JSON) asks."""
    validations.check_may_run(p)  # before a byte of the model is read
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=1024 * 1024)
    except HTTPException as e:  # a malformed or oversized multipart body
        raise Invalid(f"the multipart form: {e.detail}", field="spec") from None
    spec, model = form.get("spec"), form.get("model")
    if not isinstance(spec, str):
        raise Invalid("send the request as multipart form data with a spec field", field="spec")
    if not isinstance(model, StarletteUpload):
        raise Invalid("send the model file as the multipart field model", field="model")
    try:
        body = ValidationCreate.model_validate(json.loads(spec))
    except (ValueError, ValidationError) as e:
        raise Invalid(f"spec: {str(e).splitlines()[0]}", field="spec") from None
    data = await model.read(validations.MAX_MODEL_BYTES + 1)
    settings: Settings = request.app.state.settings
    harness = validations.harness_argv(settings.validation_harness)
    file = validations.ModelFile(file_name=model.filename or "model.onnx", data=data)
    return await run_in_threadpool(validations.create, c, p, body, file, harness)


@router.get("", responses=ERRORS)
def list_validations(
    c: CenterDep, p: PrincipalDep, project: str | None = None, model: str | None = None
) -> list[ValidationView]:
    """Validations you may read (yours, your organisation's as its admin, shared with you)."""
    return validations_read.list_validations(c, p, project=project, model=model)


@router.get("/{validation_id}", responses=ERRORS)
def show(validation_id: str, c: CenterDep, p: PrincipalDep) -> ValidationView:
    return validations_read.show(c, p, validation_id)


@router.get("/{validation_id}/verify", responses=ERRORS)
def verify(validation_id: str, c: CenterDep, p: PrincipalDep) -> VerifyView:
    """Re-hash every stored result: ``tampered`` where it no longer matches its hash."""
    return validations_read.verify(c, p, validation_id)


@router.get(
    "/{validation_id}/runs/{accelerator}/result",
    responses={**ERRORS, 200: {"content": {"application/json": {}}}},
    response_class=Response,
)
def result(validation_id: str, accelerator: str, c: CenterDep, p: PrincipalDep) -> Response:
    """A run's result as stored (canonical JSON); its SHA-256 and integrity in headers."""
    text, sha, integrity = validations_read.stored_result(c, p, validation_id, accelerator)
    headers = {"X-Result-SHA256": sha, "X-Result-Integrity": integrity}
    return Response(text, media_type="application/json", headers=headers)


@router.get("/{validation_id}/compare", responses=ERRORS)
def compare(validation_id: str, c: CenterDep, p: PrincipalDep) -> CompareView:
    """This validation's runs, then those of other versions of the same model."""
    return validations_compare.compare(c, p, validation_id)


@router.get(
    "/{validation_id}/report",
    responses={**ERRORS, 200: {"content": {"text/html": {}, "application/pdf": {}}}},
    response_class=Response,
)
def report(
    validation_id: str, c: CenterDep, p: PrincipalDep, format: Literal["html", "pdf"] = "html"
) -> Response:
    """The report: a self-contained HTML page, or a PDF."""
    name = f"validation-{validation_id}.{format}"
    headers = {"Content-Disposition": f'inline; filename="{name}"'}
    if format == "pdf":
        body = validations_report.pdf(c, p, validation_id)
        return Response(body, media_type="application/pdf", headers=headers)
    text = validations_report.html(c, p, validation_id)
    return Response(text, media_type="text/html; charset=utf-8", headers=headers)


@router.post("/{validation_id}/shares", responses=ERRORS, status_code=201)
def share(validation_id: str, body: ShareCreate, c: CenterDep, p: PrincipalDep) -> ShareView:
    """Let an organisation or a user read this validation and its report."""
    return validations_share.share(c, p, validation_id, body)


@router.get("/{validation_id}/shares", responses=ERRORS)
def shares(validation_id: str, c: CenterDep, p: PrincipalDep) -> list[ShareView]:
    return validations_share.list_shares(c, p, validation_id)


@router.delete("/{validation_id}/shares/{share_id}", responses=ERRORS)
def revoke(validation_id: str, share_id: str, c: CenterDep, p: PrincipalDep) -> ShareView:
    return validations_share.revoke(c, p, validation_id, share_id)
