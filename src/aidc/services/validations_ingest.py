"""A validation run's result, taken in when its job ends: ``$AIDC_OUTPUT_DIR/validation.json``
is read, checked against the contract's shape and the validation's model, and stored once
in canonical JSON with its SHA-256. A job that ended without a valid result makes the run
failed, with the reason.

Called by the bus on ``job.finished`` (the controller's process) and, for runs whose end
was missed (a server down at the time, or a job that ended before its run was recorded),
by every read of the validation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aidc.core.job_states import JobState
from aidc.core.validation_targets import canonical_json, content_hash, result_problem
from aidc.services.center import Center
from aidc.services.datasets_mounts import OUTPUTS
from aidc.store.models import JobRow
from aidc.store.models_validation import Validation, ValidationRun

RESULT_FILE = "validation.json"  # in the job's outputs folder, $AIDC_OUTPUT_DIR
ERROR_FILE = "harness.err"  # the harness's stderr, beside it
MAX_REASON_CHARS = 500
MAX_RESULT_BYTES = 64 * 1024 * 1024
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


def install(center: Center) -> None:
    center.bus.subscribe("job.finished", lambda _t, payload: on_job_finished(center, payload))


def on_job_finished(center: Center, payload: dict[str, Any]) -> None:
    job_id = payload.get("job_id")
    if isinstance(job_id, str):
        ingest(center, job_id)


def catch_up(center: Center, validation_id: str) -> None:
    """Ingest the runs of this validation whose jobs have ended unheard."""
    with center.db.read() as s:
        ended = list(
            s.scalars(
                select(ValidationRun.job_id)
                .join(JobRow, JobRow.id == ValidationRun.job_id)
                .where(
                    ValidationRun.validation_id == validation_id,
                    ValidationRun.state == PENDING,
                    JobRow.state.in_([st.value for st in JobState if st.is_terminal]),
                )
            )
        )
    for job_id in ended:
        ingest(center, job_id)


def ingest(center: Center, job_id: str) -> None:
    with center.db.read() as s:
        run = s.scalars(select(ValidationRun).where(ValidationRun.job_id == job_id)).first()
        job = s.scalars(select(JobRow).where(JobRow.id == job_id)).first()
        if run is None or run.state != PENDING or job is None:
            return
        state = JobState(job.state)
        if not state.is_terminal:
            return
        v = s.get_one(Validation, run.validation_id)
        scenarios, model_sha = list(v.scenarios), v.model_sha256
        run_dir = (job.handle or {}).get("dir")
        why_job = job.state_reason or ""
    result: tuple[str, str] | None = None
    if run_dir is None:
        reason = f"the job never started ({state}: {why_job or 'no reason given'})"
    elif state is not JobState.SUCCEEDED:
        reason = f"the job ended {state}" + (f": {why_job}" if why_job else "")
        said = _last_line(Path(str(run_dir)).parent / OUTPUTS / ERROR_FILE)
        reason += f"; the harness said: {said}" if said else ""
    else:
        path = Path(str(run_dir)).parent / OUTPUTS / RESULT_FILE
        reason, result = _read_result(path, scenarios, model_sha)
    now = center.clock()
    with center.db.transaction() as s:
        run = s.scalars(
            select(ValidationRun).where(ValidationRun.job_id == job_id).with_for_update()
        ).first()
        if run is None or run.state != PENDING:
            return  # another process took it in first
        run.ingested_at = now
        if result is None:
            run.state, run.reason = FAILED, reason
        else:
            run.state, run.reason = SUCCEEDED, ""
            run.result_json, run.result_sha256 = result


def _read_result(
    path: Path, scenarios: list[str], model_sha: str
) -> tuple[str, tuple[str, str] | None]:
    """(why it failed, None), or ("", (canonical JSON, its SHA-256))."""
    try:
        if path.is_symlink():
            return "the job's validation.json is a link, not a file", None
        if path.stat().st_size > MAX_RESULT_BYTES:
            return f"validation.json is larger than {MAX_RESULT_BYTES} bytes", None
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "the job succeeded but wrote no $AIDC_OUTPUT_DIR/validation.json", None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return f"validation.json is not JSON ({e})", None
    problem = result_problem(obj, scenarios)
    if problem is not None:
        return f"validation.json does not follow the result schema: {problem}", None
    got = obj["model"].get("sha256")
    if got != model_sha:
        return (
            f"the result is of a model with SHA-256 {got}, not the validation's {model_sha}",
            None,
        )
    try:
        text = canonical_json(obj)
    except ValueError:
        return "validation.json holds NaN or infinity, which JSON cannot carry", None
    return "", (text, content_hash(obj))


def _last_line(path: Path) -> str:
    """The last non-empty line of the harness's stderr (its one-line error), if any."""
    try:
        if path.is_symlink():
            return ""
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 4096))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [x.strip() for x in tail.splitlines() if x.strip()]
    return lines[-1][:MAX_REASON_CHARS] if lines else ""
