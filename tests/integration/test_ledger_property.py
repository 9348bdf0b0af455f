"""The ledger's invariants over random job histories, through the real services on both
databases: submissions, launches, ends as engines report them, preemptions, cancels,
metering at random times and server restarts (a new Center on the same database), on a
clock the test moves (across UTC midnights).

For every run: its entries sum to its recorded run time x devices once it ended, and up
to the last metering while it runs; periods follow each other without gaps or overlaps
and never span a UTC day; no entry is written twice; every account's used hours are the
credits its entries debited."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement, Pool
from aidc.engines.base import EngineStatus, Outcome
from aidc.scheduler import Decision
from aidc.services import execution, jobs, metering
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.store import jobs as job_store
from aidc.store.db import Database
from aidc.store.models_allocations import CreditAccount
from aidc.store.models_ledger import LedgerEntry
from tests.conftest import local_node
from tests.integration.ledger_helpers import DAY, grant
from tests.integration.tenants import Tenants, make_tenants

ENDINGS = [Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMEOUT, Outcome.LOST]
op = st.one_of(
    st.tuples(st.just("start"), st.integers(0, 7)),
    st.tuples(st.just("start"), st.integers(0, 7)),
    st.tuples(st.just("advance"), st.floats(0.5, 50_000, allow_nan=False)),
    st.tuples(st.just("meter"), st.just(0)),
    st.tuples(st.just("end"), st.integers(0, 7), st.sampled_from(ENDINGS)),
    st.tuples(st.just("preempt"), st.integers(0, 7)),
    st.tuples(st.just("cancel"), st.integers(0, 7)),
    st.tuples(st.just("poll"), st.integers(0, 7)),
    st.tuples(st.just("restart"), st.just(0)),
)


@dataclass
class Run:
    start: float
    devices: int
    end: float | None = None


@dataclass
class World:
    db: Database
    t: Tenants
    now: list[float]
    center: Center = field(init=False)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """What a server restart leaves: the database; clock, bus and caches are new."""
        self.center = Center(db=self.db, clock=lambda: self.now[0])


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    now = [20_000 * DAY - 7_000]
    c = Center(db=db, clock=lambda: now[0])
    sync_inventory(c, [Pool("local", "local")], [local_node()])
    t = make_tenants(c)
    # Small grants, so that entries move from one account to the next and overrun.
    grant(c, "acme-a", {"a100": 0.5})
    grant(c, "acme-a", {"a100": 1.0, "pf": 0.5}, ends_at=20_003 * DAY)
    grant(c, "acme-a", {"cpu": 2.0})
    yield World(db, t, now)


def placement(accelerators: int) -> Placement:
    if accelerators == 0:
        return Placement("local", (NodePlacement("node-1", 3, 2048, "a100", ()),))
    devices = tuple(range(accelerators))
    return Placement("local", (NodePlacement("node-1", 2, 1024, "a100", devices),))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    jobs_asking=st.lists(st.sampled_from([0, 1, 2, 4]), min_size=1, max_size=4),
    ops=st.lists(op, min_size=8, max_size=40),
)
def test_the_ledger_matches_every_run_exactly(
    world: World, jobs_asking: list[int], ops: list[tuple]
) -> None:
    w = world
    devices: dict[str, int] = {}
    runs: dict[tuple[str, int], Run] = {}
    last_meter = -math.inf

    def in_state(*states: JobState) -> list[str]:
        with w.center.db.read() as s:
            rows = job_store.in_states(s, states)
            return [r.id for r in rows if r.id in devices]

    def attempt(job_id: str) -> int:
        with w.center.db.read() as s:
            row = job_store.get(s, job_id)
            assert row is not None
            return row.attempt

    def ended(job_id: str) -> None:
        run = runs.get((job_id, attempt(job_id)))
        if run is not None and run.end is None:
            run.end = w.now[0]

    for accelerators in jobs_asking:
        spec = {"project": "acme-a", "command": ["true"], "accelerators": accelerators, "cpus": 2}
        job = jobs.submit(w.center, w.t.bob, JobSpec.model_validate(spec))
        devices[job.id] = accelerators or 3  # a CPU-only run counts its (3) cores
    for o in ops:
        kind = o[0]
        queued = in_state(JobState.QUEUED)
        running = in_state(JobState.RUNNING)
        if kind == "advance":
            w.now[0] += o[1]
        elif kind == "meter":
            metering.meter(w.center)
            last_meter = w.now[0]
        elif kind == "restart":
            w.restart()
        elif kind == "start" and queued:
            job_id = queued[o[1] % len(queued)]
            p = placement(devices[job_id] if devices[job_id] != 3 else 0)
            assert execution.admit(w.center, Decision(job_id, p)) is not None
            execution.record_launched(w.center, job_id, {"pid": 0}, reason="started")
            runs[(job_id, attempt(job_id))] = Run(w.now[0], devices[job_id])
        elif kind in ("end", "preempt", "cancel", "poll") and running:
            job_id = running[o[1] % len(running)]
            if kind == "end":
                ended(job_id)
                execution.record_status(w.center, job_id, EngineStatus(o[2], 1, "ended"))
            elif kind == "preempt":
                execution.request_preemption(
                    w.center, job_id, for_job="f00d", reason="test", grace_s=1
                )
                ended(job_id)
                status = EngineStatus(Outcome.PREEMPTED, 0, "stopped")
                execution.record_status(w.center, job_id, status)
            elif kind == "cancel":
                jobs.cancel_job(w.center, w.t.bob, job_id)
                ended(job_id)
                status = EngineStatus(Outcome.CANCELLED, None, "cancelled")
                execution.record_status(w.center, job_id, status)
            else:
                assert not execution.record_status(w.center, job_id, EngineStatus(Outcome.RUNNING))
        elif kind == "cancel" and queued:
            jobs.cancel_job(w.center, w.t.bob, queued[o[1] % len(queued)])
    check(w, runs, last_meter)
    metering.meter(w.center)
    check(w, runs, w.now[0])


def check(w: World, runs: dict[tuple[str, int], Run], metered_at: float) -> None:
    with w.db.read() as s:
        rows = s.scalars(select(LedgerEntry).order_by(LedgerEntry.period_start)).all()
        used = {a.id: a.used_hours for a in s.scalars(select(CreditAccount))}
    keys = [(e.job_seq, e.attempt, e.accelerator_type, e.period_start) for e in rows]
    assert len(keys) == len(set(keys)), "an entry was written twice"
    debited: dict[int, float] = defaultdict(float)
    by_run: dict[tuple[str, int], list[LedgerEntry]] = defaultdict(list)
    for e in rows:
        assert e.period_end > e.period_start
        assert e.period_end <= (math.floor(e.period_start / DAY) + 1) * DAY
        if e.credit_account_id is not None:
            debited[e.credit_account_id] += e.credits
        by_run[(e.job_id, e.attempt)].append(e)
    for acct, hours in used.items():
        assert math.isclose(hours, debited[acct], rel_tol=1e-9, abs_tol=1e-9)
    for key, run in runs.items():
        entries = by_run.get(key, [])
        for a, b in itertools.pairwise(entries):
            assert a.period_end == b.period_start
        total = sum(e.accelerator_seconds for e in entries)
        if run.end is not None:
            want = (run.end - run.start) * run.devices
            assert math.isclose(total, want, rel_tol=1e-9, abs_tol=1e-6), (key, total, want)
            if run.end > run.start:
                assert entries[-1].final and not any(e.final for e in entries[:-1])
        else:
            # Running: metered up to the last metering, never beyond.
            want = max(0.0, metered_at - run.start) * run.devices
            assert math.isclose(total, want, rel_tol=1e-9, abs_tol=1e-6), (key, total, want)
