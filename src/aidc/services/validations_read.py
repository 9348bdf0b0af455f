"""Who reads a validation, and what they see: its runs with their results' integrity
(a stored result re-hashed against the hash taken when it arrived) and the verdict on
each target.

A validation is read by its project's members, its organisation's admins, the center's
admins, and whoever a live share names (an organisation or a user). Anyone else gets
"not found", exactly as for an id that does not exist.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.tenancy import Principal, Role, can_read_job
from aidc.core.validation_targets import content_hash, evaluate, parse_targets
from aidc.schemas_validation import RunView, ValidationView, VerdictView, VerifyView
from aidc.services.center import Center
from aidc.services.errors import NotFound
from aidc.services.validations_ingest import PENDING, catch_up
from aidc.store.models import JobRow, Organisation, Project, User
from aidc.store.models_validation import Validation, ValidationRun, ValidationShare

VERIFIED, TAMPERED, NO_RESULT = "verified", "tampered", "pending"
LIST_MAX = 500


def list_validations(
    center: Center, p: Principal, *, project: str | None = None, model: str | None = None
) -> list[ValidationView]:
    with center.db.read() as s:
        q = _visible(select(Validation), p)
        if project is not None:
            q = q.join(Project, Project.id == Validation.project_id).where(Project.name == project)
        if model is not None:
            q = q.where(Validation.model_name == model)
        rows = list(s.scalars(q.order_by(Validation.created_at.desc()).limit(LIST_MAX)))
        pending = [v.id for v in rows if any(r.state == PENDING for r in _runs(s, v))]
    for vid in pending:
        catch_up(center, vid)
    with center.db.read() as s:
        return [view_of(s, s.get_one(Validation, v.id)) for v in rows]


def show(center: Center, p: Principal, validation_id: str) -> ValidationView:
    with center.db.read() as s:
        readable(s, p, validation_id)
    catch_up(center, validation_id)
    with center.db.read() as s:
        return view_of(s, readable(s, p, validation_id))


def verify(center: Center, p: Principal, validation_id: str) -> VerifyView:
    view = show(center, p, validation_id)
    ok = all(r.integrity != TAMPERED for r in view.runs)
    return VerifyView(validation_id=view.id, ok=ok, runs=view.runs)


def stored_result(
    center: Center, p: Principal, validation_id: str, accelerator: str
) -> tuple[str, str, str]:
    """A run's result exactly as stored (canonical JSON), its hash and its integrity, so
    that anyone can recompute the percentiles from the recorded latencies."""
    show(center, p, validation_id)  # access, and the results of runs ended unheard
    with center.db.read() as s:
        run = s.scalars(
            select(ValidationRun).where(
                ValidationRun.validation_id == validation_id,
                ValidationRun.accelerator == accelerator,
            )
        ).first()
        if run is None or run.result_json is None:
            raise NotFound(
                f"validation {validation_id} has no stored result on {accelerator!r}",
                field="accelerator",
            )
        return run.result_json, run.result_sha256 or "", integrity(run)


# -- access ---------------------------------------------------------------------------------


def readable(s: Session, p: Principal, validation_id: str) -> Validation:
    v = s.get(Validation, validation_id)
    if v is not None and may_read(s, p, v):
        return v
    raise NotFound(f"no validation {validation_id!r}", field="validation_id")


def may_read(s: Session, p: Principal, v: Validation) -> bool:
    if can_read_job(p, v.project_id, v.org_id):
        return True
    return s.scalar(_shares_to(p).where(ValidationShare.validation_id == v.id).limit(1)) is not None


def may_manage(p: Principal, v: Validation) -> bool:
    """Its creator, an admin of its organisation, or an operator shares and revokes."""
    if p.is_center_admin or p.user_id == v.user_id:
        return True
    return p.role is Role.ORG_ADMIN and p.org_id == v.org_id


def _shares_to(p: Principal, column: Any = ValidationShare.id) -> Select[Any]:
    return select(column).where(
        ValidationShare.revoked_at.is_(None),
        or_(ValidationShare.org_id == p.org_id, ValidationShare.user_id == p.user_id),
    )


def _visible(q: Select[Any], p: Principal) -> Select[Any]:
    if p.is_center_admin:
        return q
    shared = _shares_to(p, ValidationShare.validation_id)
    mine = Validation.project_id.in_(p.project_ids) | Validation.id.in_(shared)
    if p.role is Role.ORG_ADMIN:
        return q.where(mine | (Validation.org_id == p.org_id))
    return q.where(mine)


# -- views ----------------------------------------------------------------------------------


def integrity(run: ValidationRun) -> str:
    """verified: the stored result re-hashes to the hash taken when it arrived."""
    if run.result_json is None:
        return TAMPERED if run.result_sha256 is not None else NO_RESULT
    try:
        same = content_hash(json.loads(run.result_json)) == run.result_sha256
    except ValueError:
        same = False
    return VERIFIED if same else TAMPERED


def result_of(run: ValidationRun) -> dict[str, Any] | None:
    """The stored result, when there is one and it is intact (a tampered one is not shown
    as if it were a measurement)."""
    if integrity(run) != VERIFIED or run.result_json is None:
        return None
    obj = json.loads(run.result_json)
    return obj if isinstance(obj, dict) else None


def verdicts(v: Validation, result: dict[str, Any] | None) -> list[VerdictView]:
    if result is None:
        return []
    return [
        VerdictView(target=x.target, measured=x.measured, passed=x.passed)
        for x in evaluate(parse_targets(list(v.targets)), result)
    ]


def _runs(s: Session, v: Validation) -> list[ValidationRun]:
    q = select(ValidationRun).where(ValidationRun.validation_id == v.id)
    by_type = {r.accelerator: r for r in s.scalars(q)}
    return [by_type[t] for t in v.accelerators if t in by_type]


def run_views(s: Session, v: Validation) -> list[RunView]:
    runs = _runs(s, v)
    q = select(JobRow.id, JobRow.state).where(JobRow.id.in_([r.job_id for r in runs]))
    states = {job_id: state for job_id, state in s.execute(q)}
    return [
        RunView(
            accelerator=r.accelerator,
            job_id=r.job_id,
            job_state=str(JobState(states[r.job_id])) if r.job_id in states else "unknown",
            state=r.state,
            reason=r.reason,
            result_sha256=r.result_sha256,
            integrity=integrity(r),
            ingested_at=r.ingested_at,
            verdicts=verdicts(v, result_of(r)),
        )
        for r in runs
    ]


def view_of(s: Session, v: Validation) -> ValidationView:
    runs = run_views(s, v)
    return ValidationView(
        id=v.id,
        name=v.name,
        project=s.get_one(Project, v.project_id).name,
        organisation=s.get_one(Organisation, v.org_id).name,
        created_by=s.get_one(User, v.user_id).username,
        model_name=v.model_name,
        model_sha256=v.model_sha256,
        model_bytes=v.model_bytes,
        dataset=f"{v.dataset}@{v.dataset_version}",
        metric=v.metric,
        scenarios=list(v.scenarios),
        targets=list(v.targets),
        accelerators=list(v.accelerators),
        created_at=v.created_at,
        state="running" if any(r.state == PENDING for r in runs) else "done",
        runs=runs,
    )
