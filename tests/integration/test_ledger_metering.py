"""Metering on both databases: entries per UTC day and type, idempotency, final entries,
new attempts, capacity, and fair share read from the ledger."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from aidc.core.policy import Policy
from aidc.core.resources import NodePlacement, Placement
from aidc.core.usage_math import run_contribution
from aidc.engines.base import EngineStatus, Outcome
from aidc.scheduler import Decision
from aidc.services import execution, metering
from aidc.services.center import Center
from aidc.services.usage import LedgerUsage
from aidc.store import jobs as job_store
from aidc.store.models import JobRow
from aidc.store.models_ledger import CapacityEntry, LedgerEntry
from tests.integration.ledger_helpers import DAY, start_job
from tests.integration.tenants import Tenants, make_tenants

MIDNIGHT = 20_000 * DAY  # a UTC midnight


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def at(center: Center, when: float) -> None:
    center.clock = lambda: when


def entries(center: Center, job_id: str) -> list[LedgerEntry]:
    with center.db.read() as s:
        return list(
            s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.job_id == job_id)
                .order_by(LedgerEntry.attempt, LedgerEntry.period_start)
            )
        )


def test_a_run_is_metered_per_utc_day_once_and_finally_when_it_ends(
    center: Center, t: Tenants
) -> None:
    at(center, MIDNIGHT - 1800)
    job_id = start_job(center, t, accelerators=2, cpus=4)
    at(center, MIDNIGHT + 1800)
    assert metering.meter(center).entries == 2
    # Again at the same time: nothing new, nothing charged twice.
    assert metering.meter(center).entries == 0
    first = entries(center, job_id)
    assert [(e.period_start, e.period_end) for e in first] == [
        (MIDNIGHT - 1800, MIDNIGHT),
        (MIDNIGHT, MIDNIGHT + 1800),
    ]
    e = first[0]
    assert (e.accelerator_type, e.devices, e.accelerator_seconds, e.cpu_seconds) == (
        "a100",
        2,
        3600.0,
        7200.0,
    )
    assert math.isclose(e.memory_gb_seconds, 1800.0)  # 1 GiB for 1800 s
    assert math.isclose(e.pf_hours, 2 * 0.5 * 0.312)
    assert math.isclose(e.weighted_seconds, 3600.0)  # a100 weighs 1
    assert not any(x.final for x in first)

    at(center, MIDNIGHT + 2400)
    assert execution.record_status(center, job_id, EngineStatus(Outcome.SUCCEEDED, 0))
    done = entries(center, job_id)
    assert len(done) == 3 and done[-1].final and done[-1].period_end == MIDNIGHT + 2400
    with center.db.read() as s:
        row = job_store.get(s, job_id)
        assert row is not None and row.finished_at is not None and row.started_at is not None
        run = row.finished_at - row.started_at
    assert sum(x.accelerator_seconds for x in done) == run * 2
    # A finished job is metered no more.
    at(center, MIDNIGHT + 9000)
    assert metering.meter(center).entries == 0


def test_cpu_only_runs_are_metered_as_cores_of_the_cpu_type(center: Center, t: Tenants) -> None:
    at(center, MIDNIGHT)
    job_id = start_job(center, t, accelerators=0, cpus=4)
    at(center, MIDNIGHT + 100)
    metering.meter(center)
    (e,) = entries(center, job_id)
    assert (e.accelerator_type, e.devices, e.accelerator_seconds, e.cpu_seconds) == (
        "cpu",
        4,
        400.0,
        400.0,
    )
    assert math.isclose(e.weighted_seconds, 0.01 * 400)


def test_a_preempted_run_is_closed_and_the_next_attempt_metered_from_its_own_start(
    center: Center, t: Tenants
) -> None:
    at(center, MIDNIGHT)
    job_id = start_job(center, t, accelerators=1)
    at(center, MIDNIGHT + 50)
    metering.meter(center)
    at(center, MIDNIGHT + 60)
    order = execution.request_preemption(center, job_id, for_job="f00d", reason="x", grace_s=5)
    assert order is not None
    at(center, MIDNIGHT + 70)
    execution.record_status(center, job_id, EngineStatus(Outcome.PREEMPTED, 0, "stopped"))
    with center.db.read() as s:
        row = job_store.get(s, job_id)
        assert row is not None and row.metered_until is None
    # Queued for a long time; the next run starts much later.
    at(center, MIDNIGHT + 1000)
    metering.meter(center)
    placement = Placement("local", (NodePlacement("node-1", 2, 1024, "a100", (0,)),))
    assert execution.admit(center, Decision(job_id, placement)) is not None
    at(center, MIDNIGHT + 1100)
    metering.meter(center)  # STARTING: nothing runs yet
    execution.record_launched(center, job_id, {"pid": 0}, reason="started")
    at(center, MIDNIGHT + 1200)
    execution.record_status(center, job_id, EngineStatus(Outcome.FAILED, 1))
    got = entries(center, job_id)
    per_attempt = {a: sum(e.accelerator_seconds for e in got if e.attempt == a) for a in (1, 2)}
    assert per_attempt == {1: 70.0, 2: 100.0}
    assert [e.final for e in got] == [False, True, True]


def test_fair_share_reads_the_ledger_and_equals_whole_runs(center: Center, t: Tenants) -> None:
    h = Policy().half_life_s  # the policy in effect, which metering folds with
    at(center, MIDNIGHT)
    job_id = start_job(center, t, accelerators=2)
    source = LedgerUsage()
    for step in (700.0, 1500.0, 2000.0):
        at(center, MIDNIGHT + step)
        metering.meter(center)
        with center.db.read() as s:
            got = source.decayed(s, MIDNIGHT + step + 100, h)["acme-a"]
        want = run_contribution(2.0, MIDNIGHT, MIDNIGHT + step + 100, MIDNIGHT + step + 100, h)
        assert math.isclose(got, want, rel_tol=1e-9)
    at(center, MIDNIGHT + 3000)
    execution.record_status(center, job_id, EngineStatus(Outcome.SUCCEEDED, 0))
    with center.db.read() as s:
        got = source.decayed(s, MIDNIGHT + 5000, h)["acme-a"]
    want = run_contribution(2.0, MIDNIGHT, MIDNIGHT + 3000, MIDNIGHT + 5000, h)
    assert math.isclose(got, want, rel_tol=1e-9)
    assert isinstance(center.usage, LedgerUsage)


def test_capacity_is_metered_per_pool_and_type(center: Center, t: Tenants) -> None:
    at(center, MIDNIGHT - 100)
    assert metering.meter(center).capacity_entries == 1  # the marker [now, now]
    at(center, MIDNIGHT + 100)
    # Cut at midnight; the marker is extended to the first period.
    assert metering.meter(center).capacity_entries == 2
    assert metering.meter(center).capacity_entries == 0
    with center.db.read() as s:
        rows = s.scalars(select(CapacityEntry).order_by(CapacityEntry.period_start)).all()
        assert [
            (r.period_start, r.period_end, r.devices_up, r.device_seconds_up) for r in rows
        ] == [
            (MIDNIGHT - 100, MIDNIGHT, 4, 400.0),
            (MIDNIGHT, MIDNIGHT + 100, 4, 400.0),
        ]
        assert math.isclose(rows[0].pf_hours_up, 4 * 100 / 3600 * 0.312)
        assert s.scalar(select(JobRow.id)) is None


def test_a_failed_metering_writes_nothing_and_the_next_one_catches_up(
    center: Center, t: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(center, MIDNIGHT - 100)
    first = start_job(center, t, accelerators=1)
    second = start_job(center, t, accelerators=2)
    at(center, MIDNIGHT + 100)
    calls = []
    real = metering.usage.fold_period

    def crash_on_the_third(*args: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the server died here")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(metering.usage, "fold_period", crash_on_the_third)
    with pytest.raises(RuntimeError):
        metering.meter(center)
    assert entries(center, first) == [] and entries(center, second) == []
    with center.db.read() as s:
        assert {r.metered_until for r in s.scalars(select(JobRow))} == {None}
    monkeypatch.undo()
    at(center, MIDNIGHT + 300)
    metering.meter(center)
    assert sum(e.accelerator_seconds for e in entries(center, first)) == 400
    assert sum(e.accelerator_seconds for e in entries(center, second)) == 800
