"""Fair-share usage: the decay arithmetic, and ``record_run`` on a real SQLite database."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from aidc.core.accelerators import CATALOG
from aidc.core.resources import NodePlacement, Placement
from aidc.services.usage import (
    RunTimeUsage,
    decay,
    placement_rate,
    record_run,
    run_contribution,
)
from aidc.store import migrate
from aidc.store.db import Database
from aidc.store.models import Organisation, Project, ProjectUsage

DAY = 86_400.0
half_lives = st.floats(60.0, 30 * DAY)
times = st.floats(0.0, 60 * DAY)
rates = st.floats(0.0, 64.0)


@st.composite
def placements(draw: st.DrawFn) -> Placement:
    """One or two nodes, each with devices of one type, or CPU cores only."""
    nodes = []
    for i in range(draw(st.integers(1, 2))):
        acc = draw(st.sampled_from(sorted(CATALOG)))
        devices = () if acc == "cpu" else tuple(range(draw(st.integers(0, 8))))
        nodes.append(NodePlacement(f"n{i}", draw(st.integers(1, 64)), 1024, acc, devices))
    return Placement("p", tuple(nodes))


@st.composite
def runs(draw: st.DrawFn) -> list[tuple[Placement, float, float, bool]]:
    """Finished runs: (placement, start, end, preempted)."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(times)
        out.append(
            (draw(placements()), start, start + draw(st.floats(0, 3 * DAY)), draw(st.booleans()))
        )
    return out


# -- the arithmetic -----------------------------------------------------------------------


@given(rates, times, st.floats(0, 3 * DAY), st.floats(0, 30 * DAY), half_lives)
def test_a_run_never_counts_negative_nor_more_than_undecayed(
    rate: float, start: float, duration: float, later: float, h: float
) -> None:
    end = start + duration
    value = run_contribution(rate, start, end, end + later, h)
    assert 0.0 <= value <= rate * (end - start) * (1 + 1e-9)


@given(rates, times, st.floats(0, 3 * DAY), half_lives)
def test_a_run_halves_after_one_half_life(
    rate: float, start: float, duration: float, h: float
) -> None:
    end = start + duration
    now = run_contribution(rate, start, end, end, h)
    later = run_contribution(rate, start, end, end + h, h)
    assert math.isclose(later, now / 2, rel_tol=1e-9, abs_tol=1e-300)
    assert math.isclose(decay(now, h, h), now / 2, rel_tol=1e-12, abs_tol=1e-300)


@given(rates, times, st.floats(0, 1), st.floats(0, 3 * DAY), st.floats(0, DAY), half_lives)
def test_splitting_a_run_changes_nothing(
    rate: float, start: float, cut: float, duration: float, later: float, h: float
) -> None:
    end, mid = start + duration, start + cut * duration
    now = end + later
    whole = run_contribution(rate, start, end, now, h)
    parts = run_contribution(rate, start, mid, now, h) + run_contribution(rate, mid, end, now, h)
    assert math.isclose(whole, parts, rel_tol=1e-9, abs_tol=1e-9)


def test_contribution_is_the_closed_form() -> None:
    h, rate, start, end, now = 3600.0, 2.0, 0.0, 1800.0, 7200.0
    expected = rate * h / math.log(2) * (2 ** (-(now - end) / h) - 2 ** (-(now - start) / h))
    assert math.isclose(run_contribution(rate, start, end, now, h), expected, rel_tol=1e-12)
    # Without decay (an infinite half-life) it is plain rate x seconds.
    assert run_contribution(rate, start, end, now, math.inf) == rate * 1800


def test_rate_is_billing_weight_times_devices_or_cpu_cores() -> None:
    gpu = Placement("p", (NodePlacement("n", 16, 1024, "h100", (0, 1)),) * 2)
    cpu = Placement("p", (NodePlacement("n", 32, 1024, "cpu", ()),))
    assert placement_rate(gpu) == 2 * 2 * CATALOG["h100"].billing_weight
    assert math.isclose(placement_rate(cpu.to_dict()), 32 * CATALOG["cpu"].billing_weight)


# -- record_run and RunTimeUsage on SQLite ------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("usage") / "aidc.db"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database.engine)
    with database.transaction() as s:
        s.add(Organisation(id=1, name="Org", kind="startup", created_at=0.0))
        s.flush()
        s.add_all(Project(id=i, name=f"p{i}", org_id=1, created_at=0.0) for i in (1, 2))
    yield database
    database.dispose()


def _session(db: Database) -> Session:
    """A session whose writes are rolled back when it closes, at the end of each example."""
    return Session(db.engine)


def _record(s: Session, project: int, run: tuple[Placement, float, float, bool], h: float) -> None:
    placement, start, end, preempted = run
    record_run(
        s,
        project,
        placement=placement,
        started_at=start,
        ended_at=end,
        half_life_s=h,
        preempted=preempted,
    )


@settings(max_examples=60, deadline=None)
@given(runs(), half_lives, st.floats(0, 30 * DAY))
def test_stored_usage_is_never_negative_and_halves_per_half_life(
    db: Database, done: list[tuple[Placement, float, float, bool]], h: float, later: float
) -> None:
    with _session(db) as s:
        for run in done:  # in any order: a run recorded late is decayed to the stored time
            _record(s, 1, run, h)
        now = max(end for _, _, end, _ in done) + later
        usage = RunTimeUsage().decayed(s, now, h)
        assert usage["p1"] >= 0.0
        halved = RunTimeUsage().decayed(s, now + h, h)["p1"]
        # abs_tol: long-decayed values go subnormal, where halving loses relative precision.
        assert math.isclose(halved, usage["p1"] / 2, rel_tol=1e-9, abs_tol=1e-300)
        row = s.get(ProjectUsage, 1)
        assert row is not None and row.preemptions == sum(p for *_, p in done)
        assert row.lost_accelerator_seconds <= row.accelerator_seconds * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(placements(), times, st.floats(0, 1), st.floats(0, 3 * DAY), half_lives)
def test_recording_a_run_in_two_pieces_equals_one_piece(
    db: Database, placement: Placement, start: float, cut: float, duration: float, h: float
) -> None:
    end, mid = start + duration, start + cut * duration
    with _session(db) as s:
        _record(s, 1, (placement, start, end, False), h)
        _record(s, 2, (placement, start, mid, False), h)
        _record(s, 2, (placement, mid, end, False), h)
        usage = RunTimeUsage().decayed(s, end + DAY, h)
        assert math.isclose(usage["p1"], usage["p2"], rel_tol=1e-9, abs_tol=1e-9)
        one, two = s.get(ProjectUsage, 1), s.get(ProjectUsage, 2)
        assert one is not None and two is not None
        assert math.isclose(
            one.accelerator_seconds, two.accelerator_seconds, rel_tol=1e-9, abs_tol=1e-9
        )
