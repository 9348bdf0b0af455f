"""Credits on both databases: debits, warnings at 80 % and 100 % (once), and what happens
to a project's new jobs once its credits are used up (hold, opportunistic, notify)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import select

from aidc.core.jobspec import JobSpec
from aidc.engines.base import EngineStatus, Outcome
from aidc.scheduler import plan
from aidc.scheduler.snapshot import Reason
from aidc.services import execution, jobs, ledger_views, metering, pass_input
from aidc.services.center import Center
from aidc.store import jobs as job_store
from aidc.store.models import JobEvent
from aidc.store.models_allocations import Notification
from aidc.store.models_ledger import LedgerEntry
from tests.integration.ledger_helpers import DAY, accounts, grant, start_job
from tests.integration.tenants import Tenants, make_tenants

T0 = 20_000 * DAY + 3600


@pytest.fixture
def t(center: Center) -> Tenants:
    center.clock = lambda: T0
    return make_tenants(center)


def at(center: Center, when: float) -> None:
    center.clock = lambda: when


def submit(center: Center, t: Tenants, accelerators: int = 1, **extra: Any) -> str:
    spec = {"project": "acme-a", "command": ["true"], "accelerators": accelerators} | extra
    return jobs.submit(center, t.bob, JobSpec.model_validate(spec)).id


def gate(center: Center) -> pass_input.PassInput:
    """A pass's input, with the held jobs' explanations stored as the controller does."""
    inp = pass_input.prepare(center)
    if inp.held:
        execution.record_waits(center, list(inp.held), dict(inp.seqs))
    return inp


def test_entries_debit_the_account_and_warn_at_80_and_100_percent_once(
    center: Center, t: Tenants
) -> None:
    grant(center, "acme-a", {"a100": 1.0})
    published: list[dict[str, Any]] = []
    center.bus.subscribe("credits.warning", lambda _t, p: published.append(p))
    job_id = start_job(center, t, accelerators=2)
    at(center, T0 + 1440)  # 2 x 1440 s = 0.8 h
    metering.meter(center)
    (acct,) = accounts(center, "acme-a")
    assert math.isclose(acct.used_hours, 0.8)
    assert [p["threshold"] for p in published] == [80]
    at(center, T0 + 1800)  # 1.0 h
    metering.meter(center)
    at(center, T0 + 2000)  # beyond: the overrun is recorded, not lost
    metering.meter(center)
    execution.record_status(center, job_id, EngineStatus(Outcome.SUCCEEDED))
    (acct,) = accounts(center, "acme-a")
    with center.db.read() as s:
        debited = sum(e.credits for e in s.scalars(select(LedgerEntry)))
        keys = sorted(s.scalars(select(Notification.key)))
        notes = [
            e.reason for e in s.scalars(select(JobEvent).where(JobEvent.reason.like("credits:%")))
        ]
    assert math.isclose(acct.used_hours, 2 * 2000 / 3600) and math.isclose(debited, acct.used_hours)
    assert keys == [f"credits:{acct.id}:100", f"credits:{acct.id}:80"]
    assert [p["threshold"] for p in published] == [80, 100]
    assert len(notes) == 2 and "has used all of its 1 a100-hours" in notes[1]
    # The organisation's admin and the project's member see them; another org does not.
    assert len(ledger_views.list_notifications(center, t.alice)) == 2
    assert len(ledger_views.list_notifications(center, t.bob)) == 2
    assert ledger_views.list_notifications(center, t.carol) == []
    assert len(ledger_views.list_notifications(center, t.root)) == 2
    (view,) = ledger_views.list_credits(center, t.bob)
    assert view.remaining_hours == 0.0 and view.percent_used > 100
    assert ledger_views.list_credits(center, t.carol) == []


def test_used_up_credits_hold_new_jobs_with_the_reason_and_running_ones_finish(
    center: Center, t: Tenants
) -> None:
    alloc = grant(center, "acme-a", {"a100": 0.5}, program="gpu-voucher")
    running = start_job(center, t, accelerators=1)
    at(center, T0 + 1800)
    metering.meter(center)
    waiting = submit(center, t, accelerator_type="a100")
    cpu_only = submit(center, t, accelerators=0)
    inp = gate(center)
    assert [j.job_id for j in inp.snapshot.queue] == [cpu_only]
    (held,) = inp.held
    assert held.job_id == waiting and held.reason is Reason.CREDITS
    view = jobs.get_job(center, t.bob, waiting)
    assert view.wait is not None and view.wait.reason == "credits"
    assert view.wait.message.startswith(
        f"project acme-a has used 0.5 of its 0.5 a100-hours (allocation {alloc}, "
        "program gpu-voucher): new jobs wait"
    )
    assert "aidc alloc change" in view.wait.message
    # The running job is left alone.
    assert jobs.get_job(center, t.bob, running).state == "RUNNING"
    assert running not in {j.job_id for j in inp.snapshot.queue}

    # Hours added: the held job is offered on the next pass.
    grant(center, "acme-a", {"a100": 10.0})
    inp = gate(center)
    assert {j.job_id for j in inp.snapshot.queue} == {waiting, cpu_only} and not inp.held


def test_a_pf_account_pays_for_any_accelerator_in_pf_hours(center: Center, t: Tenants) -> None:
    grant(center, "acme-a", {"pf": 1.0})
    start_job(center, t, accelerators=2)
    at(center, T0 + 3600)
    metering.meter(center)
    (acct,) = accounts(center, "acme-a")
    assert math.isclose(acct.used_hours, 2 * 0.312)
    assert not pass_input.prepare(center).held


def test_opportunistic_projects_run_beyond_quota_and_preemptible(
    center: Center, t: Tenants
) -> None:
    grant(center, "acme-a", {"a100": 0.1}, on_exhausted="opportunistic")
    start_job(center, t, accelerators=1)
    at(center, T0 + 3600)
    metering.meter(center)
    waiting = submit(center, t)
    inp = gate(center)
    assert not inp.held and inp.demoted == {waiting: "opportunistic"}
    (offered,) = inp.snapshot.queue
    assert offered.priority_class == "opportunistic"
    # The next pass offers the same object (the planner's grouping holds).
    again = pass_input.prepare(center, inp)
    assert again.snapshot.queue[0] is offered
    (d,) = plan(again.snapshot).admit
    (admitted,) = execution.admit_many(center, [d], again.demoted)
    assert admitted is not None
    with center.db.read() as s:
        row = job_store.get(s, waiting)
        assert row is not None and row.priority_class == "opportunistic"


def test_notify_projects_keep_running_new_jobs(center: Center, t: Tenants) -> None:
    grant(center, "acme-a", {"a100": 0.1}, on_exhausted="notify")
    start_job(center, t, accelerators=1)
    at(center, T0 + 3600)
    metering.meter(center)
    waiting = submit(center, t)
    inp = gate(center)
    assert not inp.held and not inp.demoted
    assert [(j.job_id, j.priority_class) for j in inp.snapshot.queue] == [(waiting, "normal")]


def test_a_project_whose_allocations_ended_is_held(center: Center, t: Tenants) -> None:
    grant(center, "acme-a", {"a100": 100.0}, starts_at=T0 - 2 * DAY, ends_at=T0 - DAY)
    waiting = submit(center, t)
    (held,) = gate(center).held
    assert held.job_id == waiting and "no active allocation" in held.message
    # Projects without any account are not metered: beta-b's jobs are offered.
    other = jobs.submit(
        center,
        t.carol,
        JobSpec.model_validate({"project": "beta-b", "command": ["true"], "accelerators": 1}),
    )
    assert [j.job_id for j in pass_input.prepare(center).snapshot.queue] == [other.id]


def test_jobs_are_offered_only_on_the_types_they_have_credit_on(center: Center, t: Tenants) -> None:
    grant(center, "acme-a", {"h100": 1.0})
    either = submit(center, t, accelerator_type=["a100", "h100"])
    anything = submit(center, t)
    a100 = submit(center, t, accelerator_type="a100")
    inp = gate(center)
    offered = {j.job_id: j.request.accelerator_types for j in inp.snapshot.queue}
    assert offered == {either: ("h100",), anything: ("h100",)}
    (held,) = inp.held
    assert held.job_id == a100
    assert "project acme-a has no credits for a100 (its allocations grant h100)" in held.message
    # The same copies next pass (the planner's grouping holds), and fresh ones once the
    # credits change.
    again = pass_input.prepare(center, inp)
    assert [j for j in again.snapshot.queue] == list(inp.snapshot.queue)
    assert all(a is b for a, b in zip(again.snapshot.queue, inp.snapshot.queue, strict=True))
    grant(center, "acme-a", {"pf": 1.0})
    released = pass_input.prepare(center, again)
    assert {j.job_id: j.request.accelerator_types for j in released.snapshot.queue} == {
        either: ("a100", "h100"),
        anything: (),
        a100: ("a100",),
    }
