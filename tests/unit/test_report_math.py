"""Report periods and the splitting of intervals at UTC midnights and period bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aidc.core.report_math import (
    ALL_TIME,
    DAY_S,
    Period,
    ReportInputError,
    day_of,
    day_pieces,
    overlap_fraction,
    parse_group_keys,
    parse_month,
    parse_period,
)

NOV = 1793491200.0  # 2026-11-01 00:00 UTC


def test_months_and_dates_are_utc_and_end_exclusive() -> None:
    nov = parse_month("2026-11")
    assert (nov.start, nov.end, nov.label) == (NOV, NOV + 30 * DAY_S, "2026-11")
    dec = parse_month("2026-12")
    assert dec.end == parse_month("2027-01").start and dec.end - dec.start == 31 * DAY_S
    p = parse_period(None, "2026-11-01", "2026-11-03")
    assert (p.start, p.end) == (NOV, NOV + 2 * DAY_S)
    assert parse_period(None, None, None) is ALL_TIME
    assert parse_period(None, "2026-11-01", None).end is None


@pytest.mark.parametrize(
    ("month", "from_", "to", "field"),
    [
        ("2026-13", None, None, "month"),
        ("nov", None, None, "month"),
        ("2026-11", "2026-11-01", None, "month"),
        (None, "2026-11-31", None, "from"),
        (None, None, "tomorrow", "to"),
        (None, "2026-11-02", "2026-11-02", "to"),
    ],
)
def test_bad_periods_name_the_field(
    month: str | None, from_: str | None, to: str | None, field: str
) -> None:
    with pytest.raises(ReportInputError) as e:
        parse_period(month, from_, to)
    assert e.value.field == field


def test_group_keys_are_checked_and_deduplicated() -> None:
    assert parse_group_keys(["org", "month", "org"]) == ("org", "month")
    with pytest.raises(ReportInputError) as e:
        parse_group_keys(["org", "colour"])
    assert e.value.field == "by" and "accelerator-type" in e.value.message


def test_a_whole_entry_keeps_its_measures_exactly() -> None:
    assert list(day_pieces(NOV + 10, NOV + 20, ALL_TIME)) == [(1.0, NOV + 10)]
    # Across midnight: in proportion, each piece dated by its own day.
    pieces = list(day_pieces(NOV - 3600, NOV + 3 * 3600, ALL_TIME))
    assert pieces == [(0.25, NOV - 3600), (0.75, NOV)]
    assert [day_of(at) for _, at in pieces] == ["2026-10-31", "2026-11-01"]
    # Clipped by the period.
    assert list(day_pieces(NOV - 3600, NOV + 3600, parse_month("2026-11"))) == [(0.5, NOV)]
    assert list(day_pieces(NOV - 10, NOV - 10, parse_month("2026-11"))) == []


@given(
    start=st.integers(-5 * 86400 * 8, 5 * 86400 * 8).map(lambda x: NOV + x / 8),
    length=st.integers(0, 4 * 86400 * 8).map(lambda x: x / 8),
    lo=st.integers(-6 * 86400, 6 * 86400).map(lambda x: NOV + x),
    span=st.integers(0, 6 * 86400).map(float),
)
def test_pieces_cover_exactly_the_overlap(
    start: float, length: float, lo: float, span: float
) -> None:
    """Times in eighths of a second (the meter's are far coarser): none rounds to zero."""
    period = Period(lo, lo + span, "p")
    pieces = list(day_pieces(start, start + length, period))
    if length > 0:
        assert sum(f for f, _ in pieces) == pytest.approx(
            period.overlap(start, start + length) / length
        )
    for _, at in pieces:
        assert period.contains(at)
    days = [day_of(at) for _, at in pieces]
    assert days == sorted(set(days))


def test_a_grant_is_prorated_by_its_term_in_the_period() -> None:
    nov = parse_month("2026-11")
    assert overlap_fraction(NOV, NOV + 30 * DAY_S, nov) == 1.0
    assert overlap_fraction(NOV + 15 * DAY_S, NOV + 45 * DAY_S, nov) == 0.5
    assert overlap_fraction(NOV - 10 * DAY_S, NOV, nov) == 0.0
    assert overlap_fraction(NOV - 10 * DAY_S, NOV, ALL_TIME) == 1.0
