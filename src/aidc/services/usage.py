"""Fair-share usage: billing-weighted accelerator-seconds per project, decayed by half-life.

Usage at ``now`` is the integral over past runs of ``rate * 2^(-(now - t) / h)``, where the
rate is billing weight x devices. A stored value decays to a later time by multiplying with
``2^(-dt / h)``, so ``project_usage`` keeps one number per project plus the time it is as of,
and finished runs are folded in exactly (no sampling). Jobs running now add their partial
run when usage is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.job_states import JobState
from aidc.core.resources import Placement
from aidc.core.usage_math import decay, placement_rate, run_contribution
from aidc.store.models import JobRow, Project, ProjectUsage


class UsageSource(Protocol):
    """Where fair share reads usage from: ``LedgerUsage`` (the default) or ``RunTimeUsage``."""

    def decayed(self, s: Session, now: float, half_life_s: float) -> dict[str, float]:
        """Project name -> decayed, billing-weighted accelerator-seconds as of ``now``."""
        ...


# The arithmetic (decay, run_contribution, placement_rate) is aidc.core.usage_math's, shared
# with the simulator.


# -- the store ----------------------------------------------------------------------------


def record_run(
    s: Session,
    project_id: int,
    *,
    placement: Placement | Mapping[str, Any],
    started_at: float,
    ended_at: float,
    half_life_s: float,
    preempted: bool,
) -> ProjectUsage:
    """Fold one finished (or preempted) run into the project's usage, whole.

    Call it once per run, in the transaction that records the run's end: nothing here can
    tell a run already counted from a new one. (The ledger folds runs period by period
    instead, with ``fold_period`` and ``record_run_end``; the sums agree.)
    """
    rate = placement_rate(placement)
    fold_period(s, project_id, rate=rate, start=started_at, end=ended_at, half_life_s=half_life_s)
    return record_run_end(
        s, project_id, rate=rate, started_at=started_at, ended_at=ended_at, preempted=preempted
    )


# Where a transaction keeps the usage rows it locked (``Session.info`` lives as long as the
# session, which ``Database.transaction`` opens for one transaction).
USAGE_ROWS = "aidc.usage_rows"


def _usage_row(s: Session, project_id: int, at: float) -> ProjectUsage:
    # Locked once per transaction and project: a metering folds thousands of periods.
    cache: dict[int, ProjectUsage] = s.info.setdefault(USAGE_ROWS, {})
    row = cache.get(project_id)
    if row is not None:
        return row
    row = s.get(ProjectUsage, project_id, with_for_update=True)
    if row is None:
        row = ProjectUsage(
            project_id=project_id,
            decayed=0.0,
            as_of=at,
            accelerator_seconds=0.0,
            lost_accelerator_seconds=0.0,
            preemptions=0,
        )
        s.add(row)
        s.flush()
    cache[project_id] = row
    return row


def fold_period(
    s: Session, project_id: int, *, rate: float, start: float, end: float, half_life_s: float
) -> ProjectUsage:
    """Fold ``rate`` over ``[start, end]`` into the project's decayed usage and its
    undecayed total. Contributions of consecutive periods sum to the whole run's."""
    row = _usage_row(s, project_id, end)
    # A period recorded late (it ended before the stored value's time) is decayed to that time.
    as_of = max(row.as_of, end)
    row.decayed = decay(row.decayed, as_of - row.as_of, half_life_s) + run_contribution(
        rate, start, end, as_of, half_life_s
    )
    row.as_of = as_of
    # Undecayed totals for people, in the same billing-weighted unit (A100-seconds).
    row.accelerator_seconds += rate * max(0.0, end - start)
    return row


def record_run_end(
    s: Session, project_id: int, *, rate: float, started_at: float, ended_at: float, preempted: bool
) -> ProjectUsage:
    """What only a run's end tells: a preempted run's time counts as lost."""
    row = _usage_row(s, project_id, ended_at)
    if preempted:
        row.lost_accelerator_seconds += rate * max(0.0, ended_at - started_at)
        row.preemptions += 1
    s.flush()
    return row


class RunTimeUsage:
    """Usage from the controller's own records: finished runs (``project_usage``, folded
    whole with ``record_run``) plus the partial runs of jobs running now, from their start.
    Two queries per read. Right only where nothing meters runs while they run: the ledger
    folds metered periods into ``project_usage`` as it writes them (``LedgerUsage``)."""

    def decayed(self, s: Session, now: float, half_life_s: float) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for name, value, as_of in s.execute(
            select(Project.name, ProjectUsage.decayed, ProjectUsage.as_of).join(
                Project, Project.id == ProjectUsage.project_id
            )
        ):
            out[name] += decay(value, now - as_of, half_life_s)
        states = [str(st) for st in JobState if st.holds_resources]
        for name, placement, started_at in s.execute(
            select(Project.name, JobRow.placement, JobRow.started_at)
            .join(Project, Project.id == JobRow.project_id)
            .where(JobRow.state.in_(states), JobRow.started_at.is_not(None))
        ):
            out[name] += run_contribution(
                placement_rate(placement), started_at, now, now, half_life_s
            )
        return dict(out)


class LedgerUsage:
    """Usage from the ledger: every entry is folded into ``project_usage`` when it is
    written (``services.metering``), and jobs running now add what is not metered yet, from
    their ``metered_until`` (or start) to now. Two queries per read."""

    def decayed(self, s: Session, now: float, half_life_s: float) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for name, value, as_of in s.execute(
            select(Project.name, ProjectUsage.decayed, ProjectUsage.as_of).join(
                Project, Project.id == ProjectUsage.project_id
            )
        ):
            out[name] += decay(value, now - as_of, half_life_s)
        # RUNNING only: started_at is the current run's there (an admitted job that was
        # preempted before still shows its last run's start).
        for name, placement, started_at, metered_until in s.execute(
            select(Project.name, JobRow.placement, JobRow.started_at, JobRow.metered_until)
            .join(Project, Project.id == JobRow.project_id)
            .where(JobRow.state == JobState.RUNNING, JobRow.started_at.is_not(None))
        ):
            since = max(started_at, metered_until if metered_until is not None else started_at)
            out[name] += run_contribution(placement_rate(placement), since, now, now, half_life_s)
        return dict(out)
