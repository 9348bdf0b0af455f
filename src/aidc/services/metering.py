"""Metering: what runs (and what capacity is up) goes into the usage ledger.

``meter(center)`` writes, for every RUNNING job, ledger entries for the period from its
``metered_until`` (or its start) to now, cut at UTC midnights, one per accelerator type of
its placement; each entry debits the project's credits and is folded into fair share's
``project_usage``; then ``metered_until`` moves to now. All of it happens in one
transaction under the jobs' row locks: a crash loses nothing (the next call meters the
whole period since) and charges nothing twice (a period already written is skipped, and
the unique key would fail the transaction rather than take it again). ``meter_run``
writes a run's final entries in the transaction that records its end (``execution.on_run_ended``).

Only RUNNING jobs are metered: an ADMITTED or STARTING job holds its placement, but no
process runs yet (and its ``started_at`` may still be its previous run's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.metering import amounts, capacity, day_periods, shares
from aidc.services import credits, usage
from aidc.services.center import Center
from aidc.services.nodes import inventory_nodes
from aidc.services.policy import current as current_policy
from aidc.store.models import JobRow, Project
from aidc.store.models_ledger import CapacityEntry, LedgerEntry

CAPACITY_KEY = ["pool", "accelerator_type", "period_start"]


@dataclass(frozen=True)
class Metered:
    entries: int  # ledger rows written
    capacity_entries: int
    warnings: tuple[dict[str, Any], ...] = ()


def meter(center: Center, now: float | None = None) -> Metered:
    """Meter every running job and every pool's capacity up to ``now`` (default: the
    center's clock), in one transaction; then publish the credit warnings it wrote."""
    now = center.clock() if now is None else now
    with center.db.transaction() as s:
        _, policy = current_policy(s)
        rows = s.scalars(
            select(JobRow)
            .where(JobRow.state == JobState.RUNNING, JobRow.started_at.is_not(None))
            .order_by(JobRow.seq)
            .with_for_update()
        ).all()
        written = meter_runs(s, rows, now, half_life_s=policy.half_life_s)
        cap = meter_capacity(s, now)
        warnings = tuple(credits.take_warnings(s))
    for w in warnings:
        center.bus.publish("credits.warning", w)
    return Metered(written, cap, warnings)


def meter_run(
    s: Session, row: JobRow, until: float, *, half_life_s: float, final: bool = False
) -> int:
    """Write ``row``'s current run into the ledger up to ``until`` (the caller holds the
    row's lock); ``final``: the run ended at ``until``. Returns the entries written."""
    return meter_runs(s, [row], until, half_life_s=half_life_s, final=final)


def meter_runs(
    s: Session,
    rows: Sequence[JobRow],
    until: float,
    *,
    half_life_s: float,
    final: bool = False,
) -> int:
    """``meter_run`` for many runs with one read of what is written and one INSERT.

    Periods already in the ledger are skipped before anything is charged (the caller holds
    the jobs' locks, so nothing else writes them meanwhile); an entry the unique key still
    refuses fails the whole transaction rather than being charged twice.
    """
    runs = [r for r in rows if r.placement is not None and r.started_at is not None]
    if not runs:
        return 0
    since = {r.seq: _since(r) for r in runs}
    written = _written_keys(s, runs, min(since.values()))
    org_of = dict(
        s.execute(
            select(Project.id, Project.org_id).where(Project.id.in_({r.project_id for r in runs}))
        ).all()
    )
    entries: list[dict[str, Any]] = []
    with s.no_autoflush:  # one flush at the INSERT, not one per debit
        for row in runs:
            assert row.placement is not None
            periods = day_periods(since[row.seq], until)
            pool = str(row.placement.get("pool", ""))
            for k, (start, end) in enumerate(periods):
                last = final and k == len(periods) - 1
                for share in shares(row.placement):
                    key = (row.seq, row.attempt, share.accelerator_type, start)
                    if key in written:
                        continue  # written before: charged once, not again
                    amt = amounts(share, end - start)
                    charge = credits.choose(
                        s,
                        row.project_id,
                        share.accelerator_type,
                        start,
                        amt.accelerator_seconds,
                        amt.pf_hours,
                    )
                    entries.append(
                        {
                            "job_seq": row.seq,
                            "job_id": row.id,
                            "attempt": row.attempt,
                            "project_id": row.project_id,
                            "org_id": org_of[row.project_id],
                            "pool": pool,
                            "accelerator_type": share.accelerator_type,
                            "devices": share.devices,
                            "period_start": start,
                            "period_end": end,
                            "accelerator_seconds": amt.accelerator_seconds,
                            "cpu_seconds": amt.cpu_seconds,
                            "memory_gb_seconds": amt.memory_gb_seconds,
                            "pf_hours": amt.pf_hours,
                            "weighted_seconds": amt.weighted_seconds,
                            "credit_account_id": charge.account.id if charge.account else None,
                            "credits": charge.hours,
                            "final": last,
                            "recorded_at": until,
                        }
                    )
                    credits.debit(s, charge, row, at=end)
                    usage.fold_period(
                        s,
                        row.project_id,
                        rate=share.rate,
                        start=start,
                        end=end,
                        half_life_s=half_life_s,
                    )
            if final and not periods:
                _mark_last_final(s, row)
            row.metered_until = max(until, since[row.seq])
    if entries:
        s.execute(insert(LedgerEntry), entries)
    return len(entries)


def _since(row: JobRow) -> float:
    assert row.started_at is not None
    if row.metered_until is None:
        return row.started_at
    return max(row.started_at, row.metered_until)


def _written_keys(
    s: Session, runs: Sequence[JobRow], since: float
) -> set[tuple[int, int, str, float]]:
    """Keys of the entries these runs already have from ``since`` on (normally none: a
    run's periods start where its last metering ended)."""
    q = select(
        LedgerEntry.job_seq,
        LedgerEntry.attempt,
        LedgerEntry.accelerator_type,
        LedgerEntry.period_start,
    ).where(LedgerEntry.period_start >= since)
    if len(runs) <= 1000:
        q = q.where(LedgerEntry.job_seq.in_([r.seq for r in runs]))
    attempts = {r.seq: r.attempt for r in runs}
    return {
        (seq, attempt, kind, start)
        for seq, attempt, kind, start in s.execute(q)
        if attempts.get(seq) == attempt
    }


def _mark_last_final(s: Session, row: JobRow) -> None:
    """The run ended exactly where it was metered to: its last entries are the final ones."""
    last = s.scalar(
        select(func.max(LedgerEntry.period_start)).where(
            LedgerEntry.job_seq == row.seq, LedgerEntry.attempt == row.attempt
        )
    )
    if last is None:
        return
    for e in s.scalars(
        select(LedgerEntry).where(
            LedgerEntry.job_seq == row.seq,
            LedgerEntry.attempt == row.attempt,
            LedgerEntry.period_start == last,
        )
    ):
        e.final = True


def meter_capacity(s: Session, now: float) -> int:
    """A capacity entry per pool and accelerator type for the period since that pair was
    last metered (the latest entry's end), counted with the nodes as they are now. A pair
    seen for the first time gets an empty entry [now, now] that marks where it starts; the
    next period extends that entry rather than adding one with the same start."""
    until: dict[tuple[str, str], float] = {
        (pool, kind): end
        for pool, kind, end in s.execute(
            select(
                CapacityEntry.pool,
                CapacityEntry.accelerator_type,
                func.max(CapacityEntry.period_end),
            ).group_by(CapacityEntry.pool, CapacityEntry.accelerator_type)
        )
    }
    markers = {
        (m.pool, m.accelerator_type): m
        for m in s.scalars(
            select(CapacityEntry).where(CapacityEntry.period_start == CapacityEntry.period_end)
        )
    }
    written = 0
    for c in capacity(inventory_nodes(s)):
        pair = (c.pool, c.accelerator_type)
        since = until.get(pair)
        periods = [(now, now)] if since is None else day_periods(since, now)
        for start, end in periods:
            seconds = end - start
            values: dict[str, Any] = {
                "pool": c.pool,
                "accelerator_type": c.accelerator_type,
                "period_start": start,
                "period_end": end,
                "devices_total": c.devices_total,
                "devices_up": c.devices_up,
                "device_seconds_up": c.devices_up * seconds,
                "pf_hours_up": c.pf_hours_up(seconds),
            }
            marker = markers.pop(pair, None)
            if marker is not None and marker.period_start == start:
                for k, v in values.items():
                    setattr(marker, k, v)
                written += 1
            else:
                written += _insert_new(s, CapacityEntry, values, CAPACITY_KEY)
    return written


def _insert_new(s: Session, model: Any, values: dict[str, Any], key: list[str]) -> bool:
    """INSERT ... ON CONFLICT (key) DO NOTHING; True if the row is new."""
    dialect = s.get_bind().dialect.name
    ins: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=key)
    return bool(s.execute(stmt.returning(model.id)).first() is not None)
