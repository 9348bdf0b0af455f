"""A run's result: what ingestion accepts and refuses (with the reason), and that the
store never rewrites a result once written (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from aidc.core.validation_targets import SCHEMA, content_hash
from aidc.services import tenancy
from aidc.services.center import Center
from aidc.services.validations_ingest import _read_result
from aidc.store.models import Project
from aidc.store.models_validation import Validation, ValidationRun
from tests.unit.test_validation_targets import _result

SHA = "a" * 64  # the model of _result()


def _write(tmp_path: Path, obj: object) -> Path:
    path = tmp_path / "validation.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "wrote no $AIDC_OUTPUT_DIR/validation.json"),
        ("{not json", "is not JSON"),
        ({"schema": "other/1"}, "schema is 'other/1'"),
        (
            _result() | {"model": {"file": "m", "sha256": "b" * 64, "bytes": 1}},
            "not the validation's",
        ),
        (json.dumps(_result()).replace('"value": 0.8', '"value": NaN'), "NaN"),
    ],
)
def test_results_that_are_refused_say_why(tmp_path: Path, content: object, says: str) -> None:
    path = tmp_path / "validation.json" if content is None else _write(tmp_path, content)
    reason, stored = _read_result(path, ["single-stream", "offline"], SHA)
    assert stored is None and says in reason


def test_a_result_is_stored_canonical_with_its_hash(tmp_path: Path) -> None:
    r = _result()
    reason, stored = _read_result(_write(tmp_path, r), ["offline"], SHA)
    assert reason == "" and stored is not None
    text, sha = stored
    assert json.loads(text) == r and sha == content_hash(r) and " " not in text.split('"os"')[0]


def test_a_stored_result_is_never_rewritten(center: Center) -> None:
    tenancy.create_organisation(center, "Acme", "startup")
    user_id = tenancy.create_user(center, "bob", "Acme", "member")
    project_id = tenancy.create_project(center, "acme-a", "Acme", ["bob"])
    r = {"schema": SCHEMA, "x": 1}
    with center.db.transaction() as s:
        org_id = s.get_one(Project, project_id).org_id
        s.add(Validation(
            id="0123456789abcdef", project_id=project_id, org_id=org_id, user_id=user_id,
            name="m", model_name="m", model_sha256=SHA, model_bytes=1, model_key="k",
            dataset="d", dataset_version=1, metric="top1", scenarios=[], targets=[],
            accelerators=["cpu"], created_at=1.0,
        ))  # fmt: skip
        s.add(ValidationRun(validation_id="0123456789abcdef", accelerator="cpu",
                            job_id="00000000000000aa", state="pending"))  # fmt: skip
    with center.db.transaction() as s:  # the first write of a result is allowed
        run = s.scalars(select(ValidationRun)).one()
        run.result_json, run.result_sha256, run.state = json.dumps(r), content_hash(r), "done"
    with pytest.raises(RuntimeError, match="immutable"), center.db.transaction() as s:
        run = s.scalars(select(ValidationRun)).one()
        run.result_json = json.dumps(r | {"x": 2})
    with center.db.read() as s:
        assert json.loads(s.scalars(select(ValidationRun.result_json)).one()) == r
