"""The append-only audit log of dataset reads, mounts, downloads, grants, releases and
refusals: written by the use cases, searched and exported by operators and stewards.

A refusal is recorded in its own transaction before the error is raised, so that the
rollback of the refused request does not take the audit row with it.
"""

from __future__ import annotations

import csv
import io
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal
from aidc.schemas_datasets import AuditView
from aidc.services.center import Center
from aidc.services.datasets_access import is_steward
from aidc.services.errors import Forbidden, Invalid
from aidc.store.models_datasets import AuditRow

ALLOWED = "allowed"
REFUSED = "refused"
MAX_ROWS = 10_000
CSV_COLUMNS = (
    "at",
    "actor",
    "action",
    "outcome",
    "dataset",
    "version",
    "project",
    "job_id",
    "purpose",
    "detail",
)


def record(
    s: Session,
    *,
    at: float,
    actor: str,
    action: str,
    dataset: str,
    outcome: str = ALLOWED,
    version: int | None = None,
    project: str = "",
    job_id: str = "",
    purpose: str = "",
    detail: str = "",
) -> None:
    s.add(
        AuditRow(
            at=at,
            actor=actor,
            action=action,
            outcome=outcome,
            dataset=dataset,
            version=version,
            project=project,
            job_id=job_id,
            purpose=purpose,
            detail=detail,
        )
    )


def refuse(
    center: Center,
    p: Principal,
    action: str,
    dataset: str,
    message: str,
    *,
    version: int | None = None,
    project: str = "",
) -> NoReturn:
    """Record the refusal, then raise Forbidden with ``message``."""
    with center.db.transaction() as s:
        record(
            s,
            at=center.clock(),
            actor=p.username,
            action=action,
            outcome=REFUSED,
            dataset=dataset,
            version=version,
            project=project,
            detail=message,
        )
    raise Forbidden(message)


def search(
    center: Center,
    p: Principal,
    *,
    dataset: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    project: str | None = None,
    outcome: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 1000,
) -> list[AuditView]:
    """Audit rows, newest first; operators and data stewards only."""
    if not is_steward(p):
        raise Forbidden("only center admins and data stewards read the dataset audit log")
    if not 1 <= limit <= MAX_ROWS:
        raise Invalid(f"limit must be between 1 and {MAX_ROWS}", field="limit")
    q = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
    if dataset:
        q = q.where(AuditRow.dataset == dataset)
    if actor:
        q = q.where(AuditRow.actor == actor)
    if action:
        q = q.where(AuditRow.action == action)
    if project:
        q = q.where(AuditRow.project == project)
    if outcome:
        q = q.where(AuditRow.outcome == outcome)
    if since is not None:
        q = q.where(AuditRow.at >= since)
    if until is not None:
        q = q.where(AuditRow.at < until)
    with center.db.read() as s:
        return [AuditView.model_validate(r, from_attributes=True) for r in s.scalars(q)]


def as_csv(rows: list[AuditView]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([getattr(r, c) if getattr(r, c) is not None else "" for c in CSV_COLUMNS])
    return buf.getvalue()
