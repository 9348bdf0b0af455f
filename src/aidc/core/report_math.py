"""Report periods and groupings: pure arithmetic on UTC calendar bounds and intervals.

A report's period is half-open, ``[start, end)`` in POSIX seconds, either bound open (all
time). Ledger entries never span a UTC day, but an entry that did (or that crosses the
period's bounds) is clipped and split proportionally: each piece gets the share of the
entry's measures that its share of the entry's time is, so groupings by day and month
still sum to the whole.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

DAY_S = 86400.0

# What a usage report can group by, in the order the API and the docs list them.
GROUP_KEYS = (
    "org",
    "project",
    "program",
    "org-kind",
    "sector",
    "region",
    "accelerator-type",
    "day",
    "month",
)
# Keys whose value depends on when the usage was (the rest on whose it was).
TIME_KEYS = ("day", "month")


class ReportInputError(ValueError):
    """A bad report parameter; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)``; None is an open bound. ``label`` is how people wrote it."""

    start: float | None
    end: float | None
    label: str

    def overlap(self, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` inside the period."""
        lo = start if self.start is None else max(start, self.start)
        hi = end if self.end is None else min(end, self.end)
        return max(0.0, hi - lo)

    def contains(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)


ALL_TIME = Period(None, None, "all time")


def _utc(d: dt.date) -> float:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()


def _parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ReportInputError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_month(value: str, field: str = "month") -> Period:
    """``YYYY-MM`` -> that UTC month."""
    try:
        first = dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise ReportInputError(field, f"{value!r} is not a month (YYYY-MM, e.g. 2026-11)") from None
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period(_utc(first), _utc(nxt), first.strftime("%Y-%m"))


def parse_period(month: str | None, from_: str | None, to: str | None) -> Period:
    """The period a report asks for: a month, or ``from``/``to`` dates (UTC, ``to``
    exclusive, either may be left out), or all time when nothing is given."""
    if month is not None:
        if from_ is not None or to is not None:
            raise ReportInputError("month", "give either month or from/to, not both")
        return parse_month(month)
    if from_ is None and to is None:
        return ALL_TIME
    start = _parse_date(from_, "from") if from_ is not None else None
    end = _parse_date(to, "to") if to is not None else None
    if start is not None and end is not None and end <= start:
        raise ReportInputError("to", f"to ({end}) must be after from ({start}); to is exclusive")
    label = f"{start.isoformat() if start else '...'} to {end.isoformat() if end else '...'}"
    return Period(
        _utc(start) if start is not None else None, _utc(end) if end is not None else None, label
    )


def parse_group_keys(keys: list[str]) -> tuple[str, ...]:
    """Grouping keys, checked and without repeats (in the order given)."""
    seen: list[str] = []
    for key in keys:
        if key not in GROUP_KEYS:
            allowed = ", ".join(GROUP_KEYS)
            raise ReportInputError("by", f"unknown grouping {key!r}; allowed: {allowed}")
        if key not in seen:
            seen.append(key)
    return tuple(seen)


def day_of(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d")


def month_of(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m")


def iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat()


def day_pieces(start: float, end: float, period: Period) -> Iterator[tuple[float, float]]:
    """The parts of ``[start, end)`` inside ``period``, cut at UTC midnights, as
    ``(fraction of the whole interval, piece start)``. An empty interval counts whole
    where it lies (if it lies in the period)."""
    length = end - start
    if length <= 0:
        if period.contains(start):
            yield 1.0, start
        return
    lo = start if period.start is None else max(start, period.start)
    hi = end if period.end is None else min(end, period.end)
    while lo < hi:
        midnight = (math.floor(lo / DAY_S) + 1) * DAY_S
        cut = min(hi, midnight)
        # A whole interval in one piece keeps its measures exactly (fraction 1.0).
        yield (1.0 if (lo, cut) == (start, end) else (cut - lo) / length), lo
        lo = cut


def overlap_fraction(start: float, end: float, period: Period) -> float:
    """Share of ``[start, end]`` inside the period (a grant's days, say); 1 for all time."""
    if end <= start:
        return 1.0 if period.contains(start) else 0.0
    return period.overlap(start, end) / (end - start)


def utc_day_start(t: float) -> float:
    return math.floor(t / DAY_S) * DAY_S
