"""Reviewers' decisions on allocation requests: ask for changes, approve, reject.

Reviewers and center admins decide; nobody decides on a request of their own organisation.
With ``required_approvals`` N, N distinct reviewers approve; the last approval grants the
least each of them granted, per resource, and only within what the program has left. An
approved allocation whose start date has come is activated at once (credit accounts and
quota, ``grants.activate``); an approved change request amends its active parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.allocations import Action, AllocationKind, AllocationState
from aidc.core.tenancy import Principal, Role
from aidc.schemas_allocations import AllocationView
from aidc.services import grants, programs
from aidc.services.allocation_views import approvers, round_approvals, view, visible
from aidc.services.allocations import after_or_conflict, step
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid
from aidc.store.models_allocations import Allocation, CreditAccount, Program

EPS = 1e-9


def ask_changes(center: Center, p: Principal, allocation_id: int, reason: str) -> AllocationView:
    return _decide(center, p, allocation_id, Action.ASK_CHANGES, reason)


def reject(center: Center, p: Principal, allocation_id: int, reason: str) -> AllocationView:
    return _decide(center, p, allocation_id, Action.REJECT, reason)


def approve(
    center: Center,
    p: Principal,
    allocation_id: int,
    *,
    hours: Mapping[str, float] | None = None,
    quota: Mapping[str, float] | None = None,
    storage_gb: float | None = None,
    reason: str = "",
) -> AllocationView:
    """One approval; grants (possibly less than asked) once enough reviewers approved."""
    now = center.clock()
    with center.db.transaction() as s:
        a = visible(s, p, allocation_id, lock=True)
        _require_reviewer(p, a, "approve")
        after_or_conflict(a, Action.APPROVE)
        if now >= a.ends_at:
            raise Conflict(
                f"allocation {a.id} was to end before now; it can no longer be "
                "approved (ask for a renewal or a new request)",
                field="state",
            )
        prog = s.scalars(select(Program).where(Program.id == a.program_id).with_for_update()).one()
        if p.username in approvers(s, a):
            raise Conflict(f"you already approved allocation {a.id}; another reviewer must")
        grant = _grant(a, hours, quota, storage_gb)
        _check_budget(s, prog, grant)
        if a.kind == AllocationKind.CHANGE:
            parent = s.get(Allocation, a.parent_id)
            assert parent is not None
            if parent.state != AllocationState.ACTIVE:
                raise Conflict(
                    f"allocation {parent.id}, which this changes, is {parent.state}, not active",
                    field="state",
                )
        needed = programs.required_approvals(prog)
        last = len(approvers(s, a)) + 1 >= needed
        if last:
            grant = _least([*round_approvals(s, a), grant])
            # Nothing granted on a resource is no credit account for it.
            grant["hours"] = {r: h for r, h in grant["hours"].items() if h > 0}
            _check_budget(s, prog, grant)
        step(s, a, p, Action.APPROVE, reason, now=now, last=last, details=grant)
        if not last:
            return view(s, a)
        a.granted_hours = dict(grant["hours"])
        a.granted_quota = dict(grant["quota"])
        a.granted_storage_gb = float(grant["storage_gb"])
        if a.kind == AllocationKind.CHANGE:
            assert a.parent_id is not None
            _apply_change(s, p, a, prog, now)
        elif a.starts_at <= now:
            grants.activate(s, a, at=now, actor=p.username, reason="approved; start date reached")
        return view(s, a)


def _decide(
    center: Center, p: Principal, allocation_id: int, action: Action, reason: str
) -> AllocationView:
    if not reason.strip():
        raise Invalid("say why (the organisation reads it)", field="reason")
    now = center.clock()
    with center.db.transaction() as s:
        a = visible(s, p, allocation_id, lock=True)
        _require_reviewer(
            p, a, "ask for changes to" if action is Action.ASK_CHANGES else str(action)
        )
        step(s, a, p, action, reason, now=now)
        return view(s, a)


def _require_reviewer(p: Principal, a: Allocation, what: str) -> None:
    if p.role not in (Role.REVIEWER, Role.CENTER_ADMIN):
        raise Forbidden(f"only reviewers and center admins {what} allocation requests")
    if p.user_id == a.requested_by or p.org_id == a.org_id:
        raise Forbidden(f"nobody may {what} a request of their own organisation")


def _grant(
    a: Allocation,
    hours: Mapping[str, float] | None,
    quota: Mapping[str, float] | None,
    storage_gb: float | None,
) -> dict[str, Any]:
    """What this approval grants: the request, or less of it; never more, nothing else."""
    return {
        "hours": _at_most(hours, a.requested_hours, "hours"),
        "quota": _at_most(quota, a.requested_quota, "quota"),
        "storage_gb": _at_most(
            None if storage_gb is None else {"storage": storage_gb},
            {"storage": a.requested_storage_gb},
            "storage_gb",
        ).get("storage", 0.0),
    }


def _at_most(
    given: Mapping[str, float] | None, asked: Mapping[str, Any], field: str
) -> dict[str, float]:
    if given is None:
        return {str(k): float(v) for k, v in asked.items()}
    out: dict[str, float] = {}
    for resource, value in given.items():
        if resource not in asked:
            raise Invalid(f"{resource!r} was not asked for; grant only what was", field=field)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise Invalid(f"{resource}: give a number >= 0", field=field)
        if value > float(asked[resource]) + EPS:
            raise Invalid(
                f"{resource}: {value:g} is more than the {float(asked[resource]):g} asked for",
                field=field,
            )
        out[str(resource)] = float(value)
    # Resources left out of a partial grant are granted as asked.
    return {str(k): out.get(str(k), float(v)) for k, v in asked.items()}


def _least(grants_: list[dict[str, Any]]) -> dict[str, Any]:
    """The least of every approval's grant, per resource (what all approvers agreed to)."""
    out: dict[str, Any] = {"hours": {}, "quota": {}, "storage_gb": 0.0}
    for key in ("hours", "quota"):
        keys = set.intersection(*(set(g[key]) for g in grants_)) if grants_ else set()
        out[key] = {r: min(float(g[key][r]) for g in grants_) for r in sorted(keys)}
    out["storage_gb"] = min(float(g["storage_gb"]) for g in grants_)
    return out


def _check_budget(s: Session, prog: Program, grant: Mapping[str, Any]) -> None:
    remaining = grants.program_remaining(s, prog)
    for resource, h in sorted(grant["hours"].items()):
        left = remaining.get(resource, 0.0)
        if h > left + EPS:
            raise Conflict(
                f"over budget: program {prog.name!r} has {max(left, 0.0):g} {resource} hours "
                f"left; this grants {h:g}",
                field="hours",
            )
    left_gb = prog.storage_budget_gb - programs.storage_granted(s, prog.id)
    if grant["storage_gb"] > left_gb + EPS:
        raise Conflict(
            f"over budget: program {prog.name!r} has {max(left_gb, 0.0):g} GB of storage left; "
            f"this grants {grant['storage_gb']:g}",
            field="storage_gb",
        )


def _apply_change(s: Session, p: Principal, change: Allocation, prog: Program, now: float) -> None:
    """Fold an approved change into its active parent: hours added to its credit accounts
    (a new account for a new resource), quota per type replaced, end moved, quota synced."""
    parent = s.get(Allocation, change.parent_id)
    assert parent is not None
    added = {str(k): float(v) for k, v in (change.granted_hours or {}).items()}
    hours = {str(k): float(v) for k, v in (parent.granted_hours or {}).items()}
    accounts = {
        acct.resource: acct
        for acct in s.scalars(select(CreditAccount).where(CreditAccount.allocation_id == parent.id))
    }
    on_exhausted = str(prog.rules.get("on_exhausted", grants.OnExhausted.HOLD))
    for resource, h in sorted(added.items()):
        hours[resource] = hours.get(resource, 0.0) + h
        if resource in accounts:
            accounts[resource].granted_hours += h
        else:
            accounts[resource] = CreditAccount(
                allocation_id=parent.id,
                project_id=parent.project_id,
                resource=resource,
                granted_hours=h,
                used_hours=0.0,
                starts_at=parent.starts_at,
                ends_at=parent.ends_at,
                on_exhausted=on_exhausted,
            )
            s.add(accounts[resource])
    parent.granted_hours = hours
    parent.granted_quota = {**(parent.granted_quota or {}), **(change.granted_quota or {})}
    parent.granted_storage_gb = (parent.granted_storage_gb or 0.0) + (
        change.granted_storage_gb or 0.0
    )
    if change.ends_at > parent.ends_at:
        parent.ends_at = change.ends_at
        for acct in accounts.values():
            acct.ends_at = change.ends_at
    step(
        s,
        parent,
        p,
        Action.CHANGE,
        f"change {change.id} applied",
        now=now,
        details={
            "change": change.id,
            "hours": added,
            "quota": change.granted_quota or {},
            "ends_at": parent.ends_at,
        },
    )
    s.flush()
    grants.sync_project_quota(s, parent.project_id, at=now)
