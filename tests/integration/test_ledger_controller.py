"""The real controller and the real local engine: a running job is metered every
``meter_every_s`` while it runs, and its final entry closes the run exactly."""

from __future__ import annotations

import itertools
import math
import time

from sqlalchemy import select

from aidc.controller.accounting import Accounting
from aidc.controller.loop import Controller
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.services import grants, jobs
from aidc.services.center import Center
from aidc.store import jobs as job_store
from aidc.store.models_allocations import Allocation
from aidc.store.models_ledger import LedgerEntry
from tests.integration.ledger_helpers import accounts, grant
from tests.integration.tenants import make_tenants


def ledger(center: Center, job_id: str) -> list[LedgerEntry]:
    with center.db.read() as s:
        return list(
            s.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.job_id == job_id)
                .order_by(LedgerEntry.period_start)
            )
        )


def test_a_running_job_is_metered_while_it_runs_and_closed_when_it_ends(center: Center) -> None:
    t = make_tenants(center)
    grant(center, "acme-a", {"a100": 100.0})
    spec = {"project": "acme-a", "command": ["sleep", "3"], "accelerators": 2}
    job = jobs.submit(center, t.bob, JobSpec.model_validate(spec))
    controller = Controller(center, tick_s=0.1, meter_every_s=1.0)
    center.bus.subscribe("job.submitted", lambda _t, _p: controller.wake())
    controller.start()
    seen_while_running: list[LedgerEntry] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            view = jobs.get_job(center, t.bob, job.id)
            if view.state.is_terminal:
                break
            if view.state is JobState.RUNNING and not seen_while_running:
                seen_while_running = ledger(center, job.id)
            time.sleep(0.1)
    finally:
        controller.stop()
    view = jobs.get_job(center, t.bob, job.id)
    assert view.state is JobState.SUCCEEDED, view.state_reason
    assert seen_while_running, "no ledger entry was written while the job ran"
    assert not any(e.final for e in seen_while_running)
    entries = ledger(center, job.id)
    assert entries[-1].final and len(entries) >= 2
    assert view.started_at is not None and view.finished_at is not None
    run_s = view.finished_at - view.started_at
    assert math.isclose(sum(e.accelerator_seconds for e in entries), run_s * 2, rel_tol=1e-9)
    # Consecutive periods: each starts where the last ended.
    assert all(a.period_end == b.period_start for a, b in itertools.pairwise(entries))
    (acct,) = accounts(center, "acme-a")
    assert math.isclose(acct.used_hours, run_s * 2 / 3600, rel_tol=1e-9)


def test_the_accounting_step_starts_allocations_and_meters_once_an_interval(
    center: Center,
) -> None:
    make_tenants(center)
    now = [1_800_000_000.0]
    center.clock = lambda: now[0]
    alloc_id = grant(center, "acme-a", {"a100": 5.0})
    # An approved allocation whose start date comes later: advance starts it.
    with center.db.transaction() as s:
        a = s.get(Allocation, alloc_id)
        assert a is not None
        later = Allocation(
            **{
                c.key: getattr(a, c.key)
                for c in Allocation.__table__.columns
                if c.key not in ("id", "state", "starts_at")
            },
            state=grants.AllocationState.APPROVED,
            starts_at=now[0] + 10,
        )
        s.add(later)
    step = Accounting(center, every_s=60)
    assert step.step() is not None  # at once, the first time
    assert len(accounts(center, "acme-a")) == 1
    now[0] += 30
    assert step.step() is None  # not yet
    now[0] += 31
    assert step.step() is not None
    assert sorted(a.granted_hours for a in accounts(center, "acme-a")) == [5.0, 5.0]


def test_the_controller_runs_an_exhausted_opportunistic_projects_job_as_opportunistic(
    center: Center,
) -> None:
    t = make_tenants(center)
    grant(center, "acme-a", {"a100": 0.0}, on_exhausted="opportunistic")
    spec = {"project": "acme-a", "command": ["true"], "accelerators": 1}
    job = jobs.submit(center, t.bob, JobSpec.model_validate(spec))
    controller = Controller(center, meter_every_s=3600)
    controller.tick()
    view = jobs.get_job(center, t.bob, job.id)
    assert view.state in {JobState.STARTING, JobState.RUNNING, JobState.SUCCEEDED}
    history = [e.reason for e in jobs.job_events(center, t.bob, job.id)]
    assert "the project's credits are used up: runs as opportunistic (preemptible)" in history
    with center.db.read() as s:
        row = job_store.get(s, job.id)
        assert row is not None and row.priority_class == "opportunistic"
