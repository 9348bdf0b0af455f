"""Usage reports for funders and operators, read from the usage ledger.

``usage`` groups the ledger by any of ``report_math.GROUP_KEYS`` over a period (a UTC
month, from/to dates, or all time) and sums its measures; each caller sees only what is
theirs (``report_ledger.scope``). ``csv_text`` writes a report as CSV: one ``group`` row
per row of the report, then the ``total`` row. Utilisation and burn-down are in
``reports_center``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.report_math import (
    Period,
    ReportInputError,
    day_of,
    iso,
    month_of,
    parse_group_keys,
    parse_period,
)
from aidc.core.tenancy import Principal
from aidc.schemas_reports import MEASURES, PeriodView, UsageMeasures, UsageReport, UsageRow
from aidc.services.center import Center
from aidc.services.errors import Invalid
from aidc.services.report_ledger import pieces, scope
from aidc.store.models import Organisation, Project
from aidc.store.models_allocations import Allocation, CreditAccount, Program
from aidc.store.models_ledger import LedgerEntry

SUMMED = (
    LedgerEntry.accelerator_seconds,
    LedgerEntry.pf_hours,
    LedgerEntry.cpu_seconds,
    LedgerEntry.memory_gb_seconds,
    LedgerEntry.credits,
)
GROUP = (
    LedgerEntry.job_seq,
    LedgerEntry.attempt,
    LedgerEntry.project_id,
    LedgerEntry.org_id,
    LedgerEntry.accelerator_type,
    LedgerEntry.credit_account_id,
)


def period_of(month: str | None, from_: str | None, to: str | None) -> Period:
    try:
        return parse_period(month, from_, to)
    except ReportInputError as e:
        raise Invalid(e.message, field=e.field) from None


def period_view(period: Period) -> PeriodView:
    return PeriodView(label=period.label, start=iso(period.start), end=iso(period.end))


@dataclass
class _Sums:
    values: list[float] = field(default_factory=lambda: [0.0] * len(SUMMED))
    runs: set[tuple[int, int]] = field(default_factory=set)

    def add(self, values: list[float], run: tuple[int, int]) -> None:
        for i, v in enumerate(values):
            self.values[i] += v
        self.runs.add(run)

    def measures(self) -> dict[str, Any]:
        acc_s, pf_h, cpu_s, mem_s, credits = self.values
        return {
            "accelerator_hours": acc_s / 3600.0,
            "accelerator_seconds": acc_s,
            "pf_hours": pf_h,
            "cpu_hours": cpu_s / 3600.0,
            "memory_gb_hours": mem_s / 3600.0,
            "credits": credits,
            "jobs": len(self.runs),
        }


class _Names:
    """What the grouping keys need to know about projects, organisations and programs."""

    def __init__(self, s: Session, keys: tuple[str, ...]) -> None:
        self.projects = {i: n for i, n in s.execute(select(Project.id, Project.name))}
        self.orgs = {o.id: o for o in s.scalars(select(Organisation))}
        self.programs: dict[int, str] = {}
        if "program" in keys:
            q = (
                select(CreditAccount.id, Program.name)
                .join(Allocation, Allocation.id == CreditAccount.allocation_id)
                .join(Program, Program.id == Allocation.program_id)
            )
            self.programs = {i: n for i, n in s.execute(q)}

    def key(
        self, name: str, project: int, org: int, acc: str, account: int | None, day: float
    ) -> str:
        if name == "org":
            return self.orgs[org].name if org in self.orgs else str(org)
        if name == "project":
            return self.projects.get(project, str(project))
        if name == "program":
            return self.programs.get(account, "") if account is not None else ""
        if name in ("org-kind", "sector", "region"):
            o = self.orgs.get(org)
            attr = {"org-kind": "kind", "sector": "sector", "region": "region"}[name]
            return str(getattr(o, attr)) if o is not None else ""
        if name == "accelerator-type":
            return acc
        return day_of(day) if name == "day" else month_of(day)


def usage(
    center: Center,
    p: Principal,
    *,
    by: list[str],
    month: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> UsageReport:
    """Usage the caller may see, grouped by ``by`` (none: just the totals), in the period."""
    try:
        keys = parse_group_keys(by)
    except ReportInputError as e:
        raise Invalid(e.message, field=e.field) from None
    period = period_of(month, from_, to)
    groups: dict[tuple[str, ...], _Sums] = defaultdict(_Sums)
    total = _Sums()
    with center.db.read() as s:
        names = _Names(s, keys)
        for (seq, attempt, project, org, acc, account), day, values in pieces(
            s, period, scope(p), GROUP, SUMMED
        ):
            row = tuple(names.key(k, project, org, acc, account, day) for k in keys)
            groups[row].add(values, (seq, attempt))
            total.add(values, (seq, attempt))
    rows = [
        UsageRow(keys=dict(zip(keys, row, strict=True)), **groups[row].measures())
        for row in sorted(groups)
    ]
    return UsageReport(
        by=list(keys),
        period=period_view(period),
        rows=rows,
        totals=UsageMeasures(**total.measures()),
    )


CSV_KIND = "row"  # first column: "group" or "total"


def csv_columns(report: UsageReport) -> list[str]:
    return [CSV_KIND, *report.by, *MEASURES]


def csv_text(report: UsageReport) -> str:
    """The report as CSV: a header, a ``group`` row per report row, then the ``total`` row
    (its key cells empty). Numbers as Python writes them (exact for floats)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_columns(report))

    def numbers(m: UsageMeasures) -> list[str]:
        return [repr(getattr(m, name)) for name in MEASURES]

    for row in report.rows:
        w.writerow(["group", *[row.keys[k] for k in report.by], *numbers(row)])
    w.writerow(["total", *["" for _ in report.by], *numbers(report.totals)])
    return buf.getvalue()
