"""Property: for random ledger entries, every grouping's rows add up to the totals, and the
totals are the ledger's own SQL sums over the period (for each caller's scope)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from aidc.core.report_math import GROUP_KEYS
from aidc.services import reports
from aidc.services.center import Center
from aidc.store.models_ledger import LedgerEntry
from tests.integration import ledger_rows as L
from tests.integration.tenants import make_tenants

GROUPINGS = [
    *[[k] for k in GROUP_KEYS],
    ["org", "month"],
    ["program", "accelerator-type"],
    ["org-kind", "day"],
    ["project", "region", "sector"],
]
# Sums of exact binary fractions are exact in any order; hours are seconds / 3600, rounded.
EXACT = ("accelerator_seconds", "pf_hours", "credits")
HOURS = ("accelerator_hours", "cpu_hours", "memory_gb_hours")
BASE = L.at("2026-10-28 00:00")
PERIODS: list[dict[str, str]] = [
    {"month": "2026-11"},
    {},
    {"from_": "2026-11-15"},
    {"from_": "2026-10-30", "to": "2026-11-02"},
]

# One entry: (job index, attempt, type, account?, day offset, start in day (quarter hours),
# length in quarter hours), measures as exact binary fractions so sums are order-free.
entries = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(1, 2),
        st.sampled_from(["a100", "h100"]),
        st.booleans(),
        st.integers(0, 40),
        st.integers(0, 95),
        st.integers(0, 16),
        st.integers(0, 10**6),
        st.integers(0, 10**4),
    ),
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=entries, period=st.sampled_from(PERIODS), who=st.sampled_from(["root", "alice"]))
def test_rows_sum_to_totals_and_totals_to_the_ledger(
    center: Center, data: list[tuple[int, ...]], period: dict[str, str], who: str
) -> None:
    tenants = _tenants(center)
    with center.db.transaction() as s:
        s.execute(delete(LedgerEntry))
        seen: set[tuple[Any, ...]] = set()
        for job, attempt, acc, debit, day, quarter, length, amount, credit in data:
            seq = tenants["jobs"][job]
            start = BASE + day * 86400.0 + quarter * 900.0
            # Inside one UTC day, as the meter writes them.
            end = min(start + length * 900.0, BASE + (day + 1) * 86400.0)
            if (seq, attempt, acc, start) in seen:
                continue
            seen.add((seq, attempt, acc, start))
            L.raw_entry(
                s,
                seq,
                attempt=attempt,
                accelerator_type=acc,
                period_start=start,
                period_end=end,
                accelerator_seconds=float(amount),
                cpu_seconds=float(amount * 3),
                memory_gb_seconds=float(amount * 7),
                pf_hours=amount / 8.0,
                credits=credit / 4.0,
                credit_account_id=tenants["account"] if debit and job < 2 else None,
            )
    p = tenants[who]
    period_ = reports.period_of(period.get("month"), period.get("from_"), period.get("to"))
    with center.db.read() as s:
        q = select(
            func.sum(LedgerEntry.accelerator_seconds),
            func.sum(LedgerEntry.pf_hours),
            func.sum(LedgerEntry.cpu_seconds),
            func.sum(LedgerEntry.memory_gb_seconds),
            func.sum(LedgerEntry.credits),
        )
        where = []
        if period_.start is not None:
            where.append(LedgerEntry.period_start >= period_.start)
        if period_.end is not None:
            where.append(LedgerEntry.period_start < period_.end)
        if who == "alice":
            where.append(LedgerEntry.org_id == p.org_id)
        acc_s, pf_h, cpu_s, mem_s, credits = (
            float(x or 0) for x in s.execute(q.where(*where)).one()
        )
        runs = len(
            set(s.execute(select(LedgerEntry.job_seq, LedgerEntry.attempt).where(*where)).all())
        )
    for by in GROUPINGS:
        r = reports.usage(center, p, by=by, **period)
        t = r.totals
        assert (t.accelerator_seconds, t.pf_hours, t.credits, t.jobs) == (
            acc_s,
            pf_h,
            credits,
            runs,
        )
        assert (t.cpu_hours, t.memory_gb_hours) == (cpu_s / 3600, mem_s / 3600)
        assert t.accelerator_hours == acc_s / 3600
        for m in EXACT:
            assert sum(getattr(row, m) for row in r.rows) == getattr(t, m), (by, m)
        for m in HOURS:
            assert sum(getattr(row, m) for row in r.rows) == pytest.approx(getattr(t, m)), (by, m)
        assert all(row.jobs <= t.jobs for row in r.rows)
        assert sum(row.jobs for row in r.rows) >= t.jobs
        assert [tuple(row.keys.values()) for row in r.rows] == sorted(
            tuple(row.keys.values()) for row in r.rows
        )
        if who == "alice":
            assert all(row.keys.get("org", "Acme") == "Acme" for row in r.rows)


def _tenants(center: Center) -> dict[str, Any]:
    """Tenants, four jobs (two per organisation) and a credit account, made once."""
    cached: dict[str, Any] | None = getattr(center, "_report_tenants", None)
    if cached is not None:
        return cached
    t = make_tenants(center)
    with center.db.transaction() as s:
        _, accts = L.allocation(
            s, "acme-a", granted={"a100": 1e6}, starts_at=BASE, ends_at=BASE + 90 * 86400
        )
        jobs = [L.job(s, "acme-a"), L.job(s, "acme-a"), L.job(s, "beta-b"), L.job(s, "beta-b")]
    cached = {"root": t.root, "alice": t.alice, "jobs": jobs, "account": accts["a100"]}
    object.__setattr__(center, "_report_tenants", cached)
    return cached
