"""The center's utilisation over a period, and an allocation's burn-down.

Utilisation (operators and reviewers): per accelerator type, capacity (device-hours the
pools had up and the PF-hours they could deliver, from the capacity ledger), what
allocations granted (their granted hours prorated by the share of their term inside the
period), and what was used (the usage ledger); utilisation = used / capacity.

Burn-down (anyone who may see the project): per credit account of an allocation, granted,
used and remaining hours, the hours debited each UTC day and their running sum, and when
the rest runs out at the trailing 7-day rate.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.report_math import ALL_TIME, DAY_S, day_of, iso, overlap_fraction, utc_day_start
from aidc.core.tenancy import Principal, Role
from aidc.schemas_reports import (
    BurnDown,
    BurnPoint,
    BurnResource,
    UtilisationReport,
    UtilisationRow,
)
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound
from aidc.services.grants import PF, AllocationState
from aidc.services.report_ledger import CENTER_WIDE, pieces
from aidc.services.reports import period_of, period_view
from aidc.store.models import Project
from aidc.store.models_allocations import Allocation, CreditAccount, Program
from aidc.store.models_ledger import CapacityEntry, LedgerEntry

TRAILING_DAYS = 7
# Allocations whose grant counts as allocated capacity while their term runs.
ALLOCATED_STATES = (AllocationState.ACTIVE, AllocationState.EXPIRED)


def utilisation(
    center: Center,
    p: Principal,
    *,
    month: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> UtilisationReport:
    """Capacity, allocation and use per accelerator type; the whole center's, so only
    operators and reviewers may read it."""
    if p.role not in CENTER_WIDE:
        raise Forbidden("the center's utilisation is for center admins and reviewers")
    period = period_of(month, from_, to)
    cap_h: dict[str, float] = defaultdict(float)
    cap_pf: dict[str, float] = defaultdict(float)
    used_h: dict[str, float] = defaultdict(float)
    used_pf: dict[str, float] = defaultdict(float)
    allocated: dict[str, float] = defaultdict(float)
    allocated_pf = 0.0
    with center.db.read() as s:
        for (acc,), _day, (dev_s, pf_h) in pieces(
            s,
            period,
            [],
            [CapacityEntry.accelerator_type],
            [CapacityEntry.device_seconds_up, CapacityEntry.pf_hours_up],
            table=CapacityEntry,
        ):
            cap_h[acc] += dev_s / 3600.0
            cap_pf[acc] += pf_h
        for (acc,), _day, (acc_s, pf_h) in pieces(
            s,
            period,
            [],
            [LedgerEntry.accelerator_type],
            [LedgerEntry.accelerator_seconds, LedgerEntry.pf_hours],
        ):
            used_h[acc] += acc_s / 3600.0
            used_pf[acc] += pf_h
        grants = s.execute(
            select(Allocation.granted_hours, Allocation.starts_at, Allocation.ends_at).where(
                Allocation.kind != "change",
                Allocation.state.in_([str(st) for st in ALLOCATED_STATES]),
            )
        ).all()
    for hours, starts_at, ends_at in grants:
        share = overlap_fraction(starts_at, ends_at, period)
        if share <= 0:
            continue
        for resource, h in (hours or {}).items():
            if resource == PF:
                allocated_pf += float(h) * share
            else:
                allocated[resource] += float(h) * share
    types = sorted(set(cap_h) | set(used_h) | set(allocated))
    rows = [_row(t, cap_h[t], cap_pf[t], allocated[t], used_h[t], used_pf[t]) for t in types]
    total = _row(
        "total",
        sum(cap_h.values()),
        sum(cap_pf.values()),
        sum(allocated.values()),
        sum(used_h.values()),
        sum(used_pf.values()),
    )
    return UtilisationReport(
        period=period_view(period), rows=rows, total=total, allocated_pf_hours=allocated_pf
    )


def _row(
    acc: str, cap_h: float, cap_pf: float, allocated: float, used_h: float, used_pf: float
) -> UtilisationRow:
    return UtilisationRow(
        accelerator_type=acc,
        capacity_device_hours=cap_h,
        capacity_pf_hours=cap_pf,
        allocated_hours=allocated,
        used_hours=used_h,
        used_pf_hours=used_pf,
        utilisation=used_h / cap_h if cap_h > 0 else None,
        pf_delivered=used_pf / cap_pf if cap_pf > 0 else None,
    )


def burndown(
    center: Center, p: Principal, *, allocation: int | None = None, project: str | None = None
) -> list[BurnDown]:
    """Burn-down of one allocation, or of every allocation of a project with credits."""
    if (allocation is None) == (project is None):
        raise Invalid("give exactly one of allocation or project", field="allocation")
    now = center.clock()
    with center.db.read() as s:
        if allocation is not None:
            a = s.get(Allocation, allocation)
            if a is None or not _may_see(s, p, a.project_id):
                raise NotFound(f"no allocation {allocation}", field="allocation")
            found = [a]
        else:
            proj = s.scalars(select(Project).where(Project.name == project)).first()
            if proj is None or not _may_see(s, p, proj.id):
                raise NotFound(f"no project {project!r}", field="project")
            found = list(
                s.scalars(
                    select(Allocation)
                    .where(Allocation.project_id == proj.id, Allocation.kind != "change")
                    .order_by(Allocation.id)
                )
            )
        return [_burn(s, a, now) for a in found]


def _may_see(s: Session, p: Principal, project_id: int) -> bool:
    if p.role in CENTER_WIDE or project_id in p.project_ids:
        return True
    proj = s.get(Project, project_id)
    return p.role is Role.ORG_ADMIN and proj is not None and proj.org_id == p.org_id


def _burn(s: Session, a: Allocation, now: float) -> BurnDown:
    project = s.get(Project, a.project_id)
    program = s.get(Program, a.program_id)
    accounts = s.scalars(
        select(CreditAccount)
        .where(CreditAccount.allocation_id == a.id)
        .order_by(CreditAccount.resource)
    ).all()
    return BurnDown(
        allocation_id=a.id,
        project=project.name if project else "",
        program=program.name if program else "",
        state=a.state,
        starts_at=iso(a.starts_at),
        ends_at=iso(a.ends_at),
        resources=[_resource(s, acct, now) for acct in accounts],
    )


def _resource(s: Session, acct: CreditAccount, now: float) -> BurnResource:
    by_day: dict[float, float] = defaultdict(float)
    for _g, day, (credits,) in pieces(
        s, ALL_TIME, [LedgerEntry.credit_account_id == acct.id], [], [LedgerEntry.credits]
    ):
        by_day[day] += credits
    series: list[BurnPoint] = []
    running = 0.0
    for day in sorted(by_day):
        running += by_day[day]
        series.append(BurnPoint(day=day_of(day), used=by_day[day], cumulative=running))
    # The trailing window is the last 7 whole UTC days up to and including today.
    since = utc_day_start(now) - (TRAILING_DAYS - 1) * DAY_S
    rate = sum(v for d, v in by_day.items() if d >= since) / TRAILING_DAYS
    remaining = acct.granted_hours - acct.used_hours
    exhausted = remaining <= 0
    projected: str | None = None
    if exhausted:
        projected = day_of(now)
    elif rate > 0:
        days = remaining / rate
        projected = day_of(now + days * DAY_S) if math.isfinite(days) and days < 36500 else None
    return BurnResource(
        resource=acct.resource,
        granted_hours=acct.granted_hours,
        used_hours=acct.used_hours,
        remaining_hours=remaining,
        rate_per_day=rate,
        projected_exhaustion=projected,
        exhausted=exhausted,
        series=series,
    )
