"""The matrix world's validations: each tenant's member runs one on cpu over its public
dataset (its job stays queued: the matrix runs no controller), shares it with the center's
organisation, and its run holds a result as the harness would have written it (stored the
way ingestion stores one, since no job of the world ever ends)."""

from __future__ import annotations

from sqlalchemy import select

from aidc.core.tenancy import Principal
from aidc.core.validation_targets import SCHEMA, canonical_json, content_hash
from aidc.schemas_validation import ShareCreate, ValidationCreate
from aidc.services import validations, validations_share
from aidc.services.center import Center
from aidc.store.models_validation import ValidationRun

MODEL = b"not really onnx: the matrix's jobs never run"


def tenant_objects(c: Center, member: Principal, project: str, dataset: str) -> dict[str, str]:
    body = ValidationCreate(project=project, dataset=f"{dataset}@1", accelerators=["cpu"])
    v = validations.create(c, member, body, validations.ModelFile("model.onnx", MODEL), ["true"])
    share = validations_share.share(c, member, v.id, ShareCreate(organisation="Center"))
    result = {"schema": SCHEMA, "model": {"sha256": v.model_sha256}, "scenarios": {}}
    with c.db.transaction() as s:
        run = s.scalars(select(ValidationRun).where(ValidationRun.validation_id == v.id)).one()
        run.state, run.ingested_at = "succeeded", c.clock()
        run.result_json, run.result_sha256 = canonical_json(result), content_hash(result)
    return {"validation": v.id, "share": share.id}
