"""Credits: ledger entries debit a project's credit accounts, and warnings at 80 % and 100 %.

An entry of accelerator type T debits the project's account for T that is active at the
entry's period start and still has hours, earliest-ending first; else its "pf" account (in
PF-hours). When every account it could debit is used up, the earliest-ending one takes the
overrun: hours used beyond those granted are recorded, never lost. ``cpu`` entries debit
only a ``cpu`` account (CPU-only jobs are never held, so PF-hours are for accelerators).

Enforcement (which queued jobs the scheduler is offered) is ``services.credit_holds``.
Reading balances and notifications (the API's) is at the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.metering import CPU
from aidc.services.grants import PF
from aidc.store import jobs as job_store
from aidc.store.models import JobRow, Project
from aidc.store.models_allocations import Allocation, CreditAccount, Notification, Program

THRESHOLDS = (80, 100)
# Where a transaction collects the warnings it wrote, for the bus once it commits.
WARNINGS = "aidc.credit_warnings"
# The credit accounts a transaction read, per project (see _active_accounts).
ACCOUNTS = "aidc.credit_accounts"
ACTOR = "accounting"


@dataclass(frozen=True)
class Charge:
    account: CreditAccount | None
    hours: float  # of the account's resource (accelerator-hours, or PF-hours for "pf")


def choose(
    s: Session,
    project_id: int,
    accelerator_type: str,
    at: float,
    accelerator_seconds: float,
    pf_hours: float,
) -> Charge:
    """The account an entry (of ``accelerator_type``, starting ``at``) debits, and by how
    much; ``Charge(None, 0)`` when the project has no account that covers it."""
    accounts = _active_accounts(s, project_id, at)
    typed = [a for a in accounts if a.resource == accelerator_type]
    pf = [a for a in accounts if a.resource == PF] if accelerator_type != CPU else []
    hours = accelerator_seconds / 3600
    for a in typed:
        if a.used_hours < a.granted_hours:
            return Charge(a, hours)
    for a in pf:
        if a.used_hours < a.granted_hours:
            return Charge(a, pf_hours)
    if typed:
        return Charge(typed[0], hours)
    if pf:
        return Charge(pf[0], pf_hours)
    return Charge(None, 0.0)


def debit(s: Session, charge: Charge, job: JobRow, *, at: float) -> None:
    """Add the charge to its account's used hours; write a warning for each threshold
    (80 %, 100 %) this use crossed: a notification to the organisation (once per account
    and threshold), a line in the history of the job that crossed it, and a bus event
    once the transaction commits (collected in ``s.info[WARNINGS]``)."""
    a = charge.account
    if a is None or charge.hours <= 0:
        return
    before = _percent(a.used_hours, a.granted_hours)
    a.used_hours += charge.hours
    after = _percent(a.used_hours, a.granted_hours)
    for threshold in THRESHOLDS:
        if before < threshold <= after:
            _warn(s, a, threshold, job, at=at)


def _warn(s: Session, a: CreditAccount, threshold: int, job: JobRow, *, at: float) -> None:
    key = f"credits:{a.id}:{threshold}"
    if s.scalar(select(Notification.id).where(Notification.key == key)) is not None:
        return
    project = s.get(Project, a.project_id)
    allocation = s.get(Allocation, a.allocation_id)
    assert project is not None and allocation is not None
    program = s.get(Program, allocation.program_id)
    unit = f"{a.resource}-hours" if a.resource != PF else "PF-hours"
    what = "has used all" if threshold >= 100 else f"has used {threshold}%"
    message = (
        f"project {project.name} {what} of its {a.granted_hours:,g} {unit} "
        f"({a.used_hours:,.1f} used; allocation {allocation.id}, program "
        f"{program.name if program else allocation.program_id})"
    )
    if threshold >= 100:
        message += f": {_exhausted_effect(a.on_exhausted)}"
    s.add(
        Notification(
            key=key,
            org_id=project.org_id,
            project_id=project.id,
            kind="credits",
            message=message,
            created_at=at,
        )
    )
    job_store.add_note(s, job, at=at, reason=f"credits: {message}", actor=ACTOR)
    warnings: list[dict[str, Any]] = s.info.setdefault(WARNINGS, [])
    warnings.append(
        {
            "key": key,
            "account_id": a.id,
            "project": project.name,
            "threshold": threshold,
            "job_id": job.id,
            "message": message,
        }
    )


def _exhausted_effect(on_exhausted: str) -> str:
    return {
        "opportunistic": "new jobs run only on idle capacity and may be preempted",
        "notify": "jobs keep running; the organisation is told",
    }.get(on_exhausted, "new jobs wait until an allocation adds hours; running jobs finish")


def _percent(used: float, granted: float) -> float:
    if granted <= 0:
        return 100.0 if used > 0 else 0.0
    return 100.0 * used / granted


def _active_accounts(s: Session, project_id: int, at: float) -> list[CreditAccount]:
    """The project's accounts active at ``at``, earliest-ending first. Read once per
    project and transaction (a metering writes many entries per project); the objects
    are the session's, so debits show in later reads."""
    cache: dict[int, list[CreditAccount]] = s.info.setdefault(ACCOUNTS, {})
    mine = cache.get(project_id)
    if mine is None:
        mine = cache[project_id] = list(
            s.scalars(
                select(CreditAccount)
                .where(CreditAccount.project_id == project_id)
                .order_by(CreditAccount.ends_at, CreditAccount.id)
            )
        )
    return [a for a in mine if a.starts_at <= at < a.ends_at]


def take_warnings(s: Session) -> list[dict[str, Any]]:
    """The warnings this transaction wrote (and forget them, and the accounts it read),
    to publish after commit."""
    s.info.pop(ACCOUNTS, None)
    out: list[dict[str, Any]] = s.info.pop(WARNINGS, [])
    return out
