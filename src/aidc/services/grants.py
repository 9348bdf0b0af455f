"""What a granted allocation does to the center, shared by approvals and courses.

An active allocation gives its project credit accounts (hours per resource) and scheduler
quota (concurrent devices per accelerator type). A project's quota on a type that any of
its allocations ever named is the sum over its active allocations (0 once they all ended);
types no allocation named stay as operators set them. ``advance`` moves allocations along
the calendar: approved ones start at their start date, active ones expire at their end.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.allocations import AllocationState, OnExhausted
from aidc.scheduler.snapshot import QuotaLimit
from aidc.services.quota_admin import put_quota
from aidc.services.quotas import OwnerKind
from aidc.store.models_allocations import Allocation, AllocationEvent, CreditAccount, Program

__all__ = [
    "PF",
    "AllocationState",
    "OnExhausted",
    "activate",
    "advance",
    "expire",
    "program_granted",
    "program_remaining",
    "record_event",
    "sync_project_quota",
]

# The resource that counts PF-hours on any accelerator (the others are accelerator types).
PF = "pf"


def record_event(
    s: Session,
    a: Allocation,
    *,
    at: float,
    actor: str,
    action: str,
    to_state: str,
    reason: str = "",
    details: dict[str, object] | None = None,
) -> None:
    """Move ``a`` to ``to_state`` (or leave it) and write the history line in one go."""
    s.add(
        AllocationEvent(
            allocation_id=a.id,
            at=at,
            actor=actor,
            action=action,
            from_state=a.state,
            to_state=to_state,
            reason=reason,
            details=details or {},
        )
    )
    a.state = to_state
    a.updated_at = at


def activate(s: Session, a: Allocation, *, at: float, actor: str, reason: str) -> None:
    """APPROVED -> ACTIVE: open its credit accounts and give its project the quota."""
    program = s.get(Program, a.program_id)
    assert program is not None
    on_exhausted = str(program.rules.get("on_exhausted", OnExhausted.HOLD))
    for resource, hours in sorted((a.granted_hours or {}).items()):
        s.add(
            CreditAccount(
                allocation_id=a.id,
                project_id=a.project_id,
                resource=resource,
                granted_hours=float(hours),
                used_hours=0.0,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                on_exhausted=on_exhausted,
            )
        )
    record_event(
        s, a, at=at, actor=actor, action="activate", to_state=AllocationState.ACTIVE, reason=reason
    )
    s.flush()
    sync_project_quota(s, a.project_id, at=at)


def expire(s: Session, a: Allocation, *, at: float, actor: str, reason: str) -> None:
    """ACTIVE -> EXPIRED: its credits lapse (accounts end) and its quota is withdrawn."""
    for acct in s.scalars(select(CreditAccount).where(CreditAccount.allocation_id == a.id)):
        acct.ends_at = min(acct.ends_at, at)
    record_event(
        s, a, at=at, actor=actor, action="expire", to_state=AllocationState.EXPIRED, reason=reason
    )
    s.flush()
    sync_project_quota(s, a.project_id, at=at)


def sync_project_quota(s: Session, project_id: int, *, at: float) -> None:
    """Set the project's quota on every type its allocations named to the active sum."""
    named: set[str] = set()
    active: dict[str, float] = defaultdict(float)
    for state, quota in s.execute(
        select(Allocation.state, Allocation.granted_quota).where(
            Allocation.project_id == project_id, Allocation.kind != "change"
        )
    ):
        for resource, devices in (quota or {}).items():
            named.add(resource)
            if state == AllocationState.ACTIVE:
                active[resource] += float(devices)
    for resource in sorted(named):
        put_quota(
            s, OwnerKind.PROJECT, project_id, resource, QuotaLimit(nominal=active[resource]), at=at
        )


def advance(s: Session, now: float) -> list[int]:
    """Start approved allocations whose start came and expire active ones whose end passed.
    Returns the ids that changed; call it in a transaction (the controller does each minute)."""
    changed: list[int] = []
    due = s.scalars(
        select(Allocation)
        .where(Allocation.state == AllocationState.APPROVED, Allocation.starts_at <= now)
        .order_by(Allocation.id)
    ).all()
    for a in due:
        if a.ends_at <= now:
            record_event(
                s,
                a,
                at=now,
                actor="aidc",
                action="expire",
                to_state=AllocationState.EXPIRED,
                reason="ended before it started",
            )
        else:
            activate(s, a, at=now, actor="aidc", reason="start date reached")
        changed.append(a.id)
    ended = s.scalars(
        select(Allocation)
        .where(Allocation.state == AllocationState.ACTIVE, Allocation.ends_at <= now)
        .order_by(Allocation.id)
    ).all()
    for a in ended:
        expire(s, a, at=now, actor="aidc", reason="end date reached")
        changed.append(a.id)
    return changed


# States whose grant counts against the program's budget (an applied change request is
# already folded into its parent's grant, so changes are not counted on their own).
GRANTED = (AllocationState.APPROVED, AllocationState.ACTIVE, AllocationState.EXPIRED)


def program_granted(s: Session, program_id: int) -> dict[str, float]:
    """Hours the program has granted so far, per resource."""
    out: dict[str, float] = defaultdict(float)
    for (hours,) in s.execute(
        select(Allocation.granted_hours).where(
            Allocation.program_id == program_id,
            Allocation.kind != "change",
            Allocation.state.in_([str(st) for st in GRANTED]),
        )
    ):
        for resource, h in (hours or {}).items():
            out[resource] += float(h)
    return dict(out)


def program_remaining(s: Session, program: Program) -> dict[str, float]:
    """Hours the program can still grant, per resource of its budget."""
    granted = program_granted(s, program.id)
    return {r: float(b) - granted.get(r, 0.0) for r, b in program.budget_hours.items()}
