"""Reading the usage ledger for reports: sums per group and UTC day, scoped to the caller.

Well-formed entries (inside the period and one UTC day, which is all the meter writes) are
summed by the database. The rest, entries crossing midnight or the period's bounds, are
read one by one, clipped to the period and split at midnights in proportion to time
(``aidc.core.report_math.day_pieces``), so reports by day and month still add up.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, cast, func, literal_column, not_, select
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer

from aidc.core.report_math import DAY_S, Period, day_pieces, utc_day_start
from aidc.core.tenancy import Principal, Role
from aidc.store.models_ledger import CapacityEntry, LedgerEntry

# Who sees the whole center's usage (everyone else: their organisation's or projects').
CENTER_WIDE = (Role.CENTER_ADMIN, Role.REVIEWER)

Table = type[LedgerEntry] | type[CapacityEntry]


def scope(p: Principal) -> list[ColumnElement[bool]]:
    """Conditions on ledger entries that keep a caller to what is theirs: operators and
    reviewers everything, an org admin their organisation's, others their projects'."""
    if p.role in CENTER_WIDE:
        return []
    if p.role is Role.ORG_ADMIN:
        return [LedgerEntry.org_id == p.org_id]
    return [LedgerEntry.project_id.in_(sorted(p.project_ids))]


def _day_index(s: Session, table: Table) -> ColumnElement[Any]:
    # The UTC day number of an entry's start. Literals, not parameters: PostgreSQL matches
    # the GROUP BY to the SELECT by its text. SQLite's CAST truncates (times are positive).
    by: ColumnElement[float] = literal_column(repr(DAY_S))
    if s.get_bind().dialect.name == "postgresql":
        return func.floor(table.period_start / by)
    return cast(table.period_start / by, Integer)


def pieces(
    s: Session,
    period: Period,
    where: Sequence[ColumnElement[bool]],
    group: Sequence[Any],
    sums: Sequence[Any],
    table: Table = LedgerEntry,
) -> Iterator[tuple[tuple[Any, ...], float, list[float]]]:
    """``(group values, UTC day start, sums)`` for the entries of ``table`` in ``period``
    matching ``where``; one group and day may come more than once (add them up)."""
    day = _day_index(s, table)
    clean: list[ColumnElement[bool]] = [table.period_end <= (day + 1) * literal_column("86400.0")]
    overlap: list[ColumnElement[bool]] = []
    if period.start is not None:
        clean.append(table.period_start >= period.start)
        overlap.append(table.period_end > period.start)
    if period.end is not None:
        clean += [table.period_end <= period.end, table.period_start < period.end]
        overlap.append(table.period_start < period.end)
    n = len(group)
    summed = select(*group, day, *[func.sum(c) for c in sums]).where(*where, *clean)
    for row in s.execute(summed.group_by(*group, day)):
        yield tuple(row[:n]), float(row[n]) * DAY_S, [float(x or 0.0) for x in row[n + 1 :]]
    rest = select(*group, table.period_start, table.period_end, *sums).where(
        *where, *overlap, not_(and_(*clean))
    )
    for row in s.execute(rest):
        start, end = float(row[n]), float(row[n + 1])
        values = [float(x or 0.0) for x in row[n + 2 :]]
        for fraction, at in day_pieces(start, end, period):
            yield tuple(row[:n]), utc_day_start(at), [v * fraction for v in values]
