"""What an allocation request may ask: checked against its program before it is stored.

Hours are per resource of the program's budget and at most the program's ``max_hours`` per
allocation; quotas are concurrent devices per accelerator type; dates lie in the program's
period; the organisation's kind must be one the program is for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from aidc.core.accelerators import CATALOG
from aidc.services import programs
from aidc.services.errors import Forbidden, Invalid
from aidc.store.models import Organisation
from aidc.store.models_allocations import Allocation, Program

# What a quota can be asked for: concurrent devices of an accelerator type.
QUOTA_TYPES: tuple[str, ...] = tuple(n for n in CATALOG if n != "cpu")
JUSTIFICATION_MAX = 20_000

Ask = dict[str, Any]


def check_ask(
    s: Session,
    prog: Program,
    org_id: int,
    justification: str,
    hours: Mapping[str, float],
    quota: Mapping[str, float],
    storage_gb: float,
    starts_at: float,
    ends_at: float,
) -> Ask:
    org = s.get(Organisation, org_id)
    assert org is not None
    if prog.eligible_kinds and org.kind not in prog.eligible_kinds:
        raise Forbidden(
            f"program {prog.name!r} is for {', '.join(prog.eligible_kinds)} organisations; "
            f"{org.name} is a {org.kind}",
            field="program",
        )
    _check_justification(justification)
    asked = _hours(prog, hours, {})
    if not asked:
        raise Invalid("ask for hours on one resource at least", field="hours")
    for field, t in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not math.isfinite(t):
            raise Invalid(f"{field} must be a date", field=field)
    if ends_at <= starts_at:
        raise Invalid("the allocation must end after it starts", field="ends_at")
    if starts_at < prog.starts_at or ends_at > prog.ends_at:
        raise Invalid(
            "the dates must lie within the program's period",
            field="starts_at" if starts_at < prog.starts_at else "ends_at",
        )
    return {
        "justification": justification,
        "hours": asked,
        "quota": _quota(quota),
        "storage_gb": _storage(storage_gb),
        "starts_at": float(starts_at),
        "ends_at": float(ends_at),
    }


def check_change(
    s: Session,
    prog: Program,
    parent: Allocation,
    justification: str,
    hours: Mapping[str, float],
    quota: Mapping[str, float],
    storage_gb: float,
    ends_at: float | None,
    now: float,
) -> Ask:
    _check_justification(justification)
    added = _hours(prog, hours, {str(k): float(v) for k, v in (parent.granted_hours or {}).items()})
    new_quota = _quota(quota)
    end = parent.ends_at if ends_at is None else float(ends_at)
    if not math.isfinite(end) or end < parent.ends_at or end > prog.ends_at:
        raise Invalid(
            "a change may move the end later, within the program's period", field="ends_at"
        )
    storage = _storage(storage_gb)
    if not (added or new_quota or storage or end != parent.ends_at):
        raise Invalid(
            "a change asks for more hours, another quota, more storage or a later end",
            field="hours",
        )
    return {
        "justification": justification,
        "hours": added,
        "quota": new_quota,
        "storage_gb": storage,
        "starts_at": min(now, end),
        "ends_at": end,
    }


def _hours(
    prog: Program, hours: Mapping[str, float], already: Mapping[str, float]
) -> dict[str, float]:
    asked = programs.hours_map(hours, "hours", tuple(prog.budget_hours))
    most = programs.max_hours(prog)
    for resource, h in asked.items():
        total = h + already.get(resource, 0.0)
        if resource in most and total > most[resource]:
            raise Invalid(
                f"{resource}: {total:g} hours is more than program {prog.name!r} gives one "
                f"allocation ({most[resource]:g})",
                field="hours",
            )
    return asked


def _quota(quota: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for resource, n in quota.items():
        if resource not in QUOTA_TYPES:
            raise Invalid(
                f"{resource!r} is not an accelerator type; use one of {', '.join(QUOTA_TYPES)}",
                field="quota",
            )
        if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n) or n < 0:
            raise Invalid(f"{resource}: the quota is a number of devices >= 0", field="quota")
        out[resource] = float(n)
    return out


def _storage(gb: float) -> float:
    programs.check_amount(gb, "storage_gb")
    return float(gb)


def _check_justification(text: str) -> None:
    if not text.strip():
        raise Invalid("say what the capacity is for", field="justification")
    if len(text) > JUSTIFICATION_MAX:
        raise Invalid(f"at most {JUSTIFICATION_MAX} characters", field="justification")
