"""Programs: funded capacity that organisations apply to, created by center admins.

A program has a period, the organisation kinds that may apply, a budget of hours per
resource (an accelerator type, or "pf" for PF-hours) and of storage, and review rules:
``required_approvals`` (distinct reviewers per request), ``max_hours`` (resource -> most
hours one allocation may ask) and ``on_exhausted`` (what used-up credits do to new jobs).
Everyone signed in may read programs: organisations need them to apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.accelerators import CATALOG
from aidc.core.allocations import OnExhausted
from aidc.core.tenancy import OrgKind, Principal
from aidc.schemas_allocations import ProgramView
from aidc.services import grants
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.store.models_allocations import Allocation, Program

PROGRAM_KINDS = ("allocation", "education")
HOURS_RESOURCES: tuple[str, ...] = (*CATALOG, grants.PF)
RULE_KEYS = ("required_approvals", "max_hours", "on_exhausted")


def create(
    center: Center,
    p: Principal,
    name: str,
    *,
    starts_at: float,
    ends_at: float,
    budget_hours: Mapping[str, float],
    kind: str = "allocation",
    description: str = "",
    eligible_kinds: list[str] | None = None,
    storage_budget_gb: float = 0.0,
    rules: Mapping[str, Any] | None = None,
) -> ProgramView:
    if not p.is_center_admin:
        raise Forbidden("only center admins create programs")
    if not name.strip() or len(name) > 128:
        raise Invalid("a program's name is 1 to 128 characters", field="name")
    if kind not in PROGRAM_KINDS:
        raise Invalid(f"kind is one of {', '.join(PROGRAM_KINDS)}", field="kind")
    for field, t in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not math.isfinite(t) or t < 0:
            raise Invalid(f"{field} must be a date", field=field)
    if ends_at <= starts_at:
        raise Invalid("the program must end after it starts", field="ends_at")
    kinds = []
    for k in eligible_kinds or []:
        try:
            kinds.append(str(OrgKind(k)))
        except ValueError:
            raise Invalid(
                f"unknown organisation kind {k!r}; use one of {', '.join(OrgKind)}",
                field="eligible_kinds",
            ) from None
    budget = hours_map(budget_hours, "budget_hours", HOURS_RESOURCES)
    if not budget:
        raise Invalid(
            "give the program a budget of hours on one resource at least", field="budget_hours"
        )
    check_amount(storage_budget_gb, "storage_budget_gb")
    checked = check_rules(dict(rules or {}), budget)
    with center.db.transaction() as s:
        if s.scalar(select(Program.id).where(Program.name == name)) is not None:
            raise Conflict(f"program {name!r} already exists", field="name")
        s.add(
            Program(
                name=name,
                kind=kind,
                description=description,
                starts_at=starts_at,
                ends_at=ends_at,
                eligible_kinds=sorted(set(kinds)),
                budget_hours=budget,
                storage_budget_gb=float(storage_budget_gb),
                rules=checked,
                cohort_id=None,
                created_at=center.clock(),
                created_by=p.username,
            )
        )
    return show(center, p, name)


def list_programs(center: Center, p: Principal) -> list[ProgramView]:
    with center.db.read() as s:
        return [view(s, x) for x in s.scalars(select(Program).order_by(Program.starts_at))]


def show(center: Center, p: Principal, name: str) -> ProgramView:
    with center.db.read() as s:
        return view(s, by_name(s, name))


def by_name(s: Session, name: str) -> Program:
    program = s.scalars(select(Program).where(Program.name == name)).one_or_none()
    if program is None:
        raise NotFound(f"no program called {name!r}", field="program")
    return program


def storage_granted(s: Session, program_id: int) -> float:
    """Storage the program has granted, GB (applied changes are in their parents)."""
    total = 0.0
    for (gb,) in s.execute(
        select(Allocation.granted_storage_gb).where(
            Allocation.program_id == program_id,
            Allocation.kind != "change",
            Allocation.state.in_([str(st) for st in grants.GRANTED]),
        )
    ):
        total += float(gb or 0.0)
    return total


def required_approvals(program: Program) -> int:
    return int(program.rules.get("required_approvals", 1))


def max_hours(program: Program) -> dict[str, float]:
    return {str(r): float(h) for r, h in dict(program.rules.get("max_hours", {})).items()}


def view(s: Session, x: Program) -> ProgramView:
    granted = grants.program_granted(s, x.id)
    return ProgramView(
        name=x.name,
        kind=x.kind,
        description=x.description,
        starts_at=x.starts_at,
        ends_at=x.ends_at,
        eligible_kinds=[str(k) for k in x.eligible_kinds],
        budget_hours={str(r): float(h) for r, h in x.budget_hours.items()},
        granted_hours={r: granted.get(r, 0.0) for r in x.budget_hours},
        remaining_hours=grants.program_remaining(s, x),
        storage_budget_gb=x.storage_budget_gb,
        granted_storage_gb=storage_granted(s, x.id),
        required_approvals=required_approvals(x),
        max_hours=max_hours(x),
        on_exhausted=str(x.rules.get("on_exhausted", OnExhausted.HOLD)),
        created_at=x.created_at,
        created_by=x.created_by,
    )


def check_rules(rules: dict[str, Any], budget: Mapping[str, float]) -> dict[str, Any]:
    for key in rules:
        if key not in RULE_KEYS:
            raise Invalid(
                f"unknown rule {key!r}; rules are {', '.join(RULE_KEYS)}", field=f"rules.{key}"
            )
    n = rules.get("required_approvals", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise Invalid(
            "required_approvals is a whole number from 1 to 10", field="rules.required_approvals"
        )
    raw = rules.get("max_hours", {})
    if not isinstance(raw, Mapping):
        raise Invalid("max_hours maps a resource to hours", field="rules.max_hours")
    most = hours_map(raw, "rules.max_hours", tuple(budget))
    on_exhausted = rules.get("on_exhausted", OnExhausted.HOLD)
    if on_exhausted not in tuple(OnExhausted):
        raise Invalid(
            f"on_exhausted is one of {', '.join(OnExhausted)}", field="rules.on_exhausted"
        )
    return {"required_approvals": n, "max_hours": most, "on_exhausted": str(on_exhausted)}


def hours_map(raw: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> dict[str, float]:
    """resource -> hours > 0, every resource one of ``allowed``; names the bad entry."""
    out: dict[str, float] = {}
    for resource, hours in raw.items():
        if resource not in allowed:
            raise Invalid(f"{resource!r} is not one of {', '.join(allowed)}", field=field)
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise Invalid(f"{resource}: hours must be a number", field=field)
        if not math.isfinite(hours) or hours <= 0:
            raise Invalid(f"{resource}: hours must be more than 0", field=field)
        out[resource] = float(hours)
    return out


def check_amount(value: float, field: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise Invalid(f"{field} must be a number >= 0", field=field)
