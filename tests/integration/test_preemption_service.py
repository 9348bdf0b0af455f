"""Preemption in the services and the controller, on SQLite and PostgreSQL: the request,
the requeue that keeps the job's place, what it cost, and cancel during a preemption."""

from __future__ import annotations

import time

import pytest

from aidc.controller import Controller
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement
from aidc.engines.base import EngineStatus, Outcome
from aidc.scheduler import Decision
from aidc.scheduler.snapshot import Preemption
from aidc.services import execution, jobs
from aidc.services.center import Center
from aidc.store import jobs as job_store
from tests.integration.tenants import Tenants, make_tenants

T0 = 1_800_000_000.0


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def running_job(center: Center, t: Tenants, accelerators: int = 2) -> str:
    """A job moved to RUNNING by hand at T0 + 10 (no process: the engine is not involved)."""
    center.clock = lambda: T0
    spec = {"project": "acme-a", "command": ["sleep", "30"], "accelerators": accelerators}
    job = jobs.submit(center, t.bob, JobSpec.model_validate(spec))
    devices = tuple(range(accelerators))
    placement = Placement("local", (NodePlacement("node-1", 1, 1024, "a100", devices),))
    center.clock = lambda: T0 + 10
    assert execution.admit(center, Decision(job.id, placement)) is not None
    execution.record_launched(center, job.id, {"dir": "/nowhere", "pid": 0}, reason="started")
    return job.id


def test_a_preempted_job_goes_back_to_the_queue_in_its_place(center: Center, t: Tenants) -> None:
    job_id = running_job(center, t)
    later = jobs.submit(
        center, t.bob, JobSpec.model_validate({"project": "acme-a", "command": ["true"]})
    )
    with center.db.read() as s:
        seq = job_store.get(s, job_id).seq  # type: ignore[union-attr]
    published: list[tuple[str, dict]] = []
    center.bus.subscribe("job.preempted", lambda topic, p: published.append((topic, p)))

    center.clock = lambda: T0 + 40
    order = execution.request_preemption(
        center, job_id, for_job="f00d", reason="project beta-b reclaims its quota", grace_s=30
    )
    assert order is not None and order.engine == "local" and order.handle["dir"] == "/nowhere"
    assert jobs.get_job(center, t.bob, job_id).stopping
    center.clock = lambda: T0 + 45
    status = EngineStatus(Outcome.PREEMPTED, 0, order.reason + " (exited; stopped in 5.0s)")
    assert execution.record_status(center, job_id, status)

    view = jobs.get_job(center, t.bob, job_id)
    assert (view.state, view.queue_position, view.submitted_at) == ("QUEUED", 1, T0)
    assert jobs.get_job(center, t.bob, later.id).queue_position == 2  # still behind it
    assert (view.attempt, view.preemptions, view.stopping) == (1, 1, False)
    assert view.lost_accelerator_seconds == pytest.approx((45 - 10) * 2)
    assert view.placement is None and view.exit_code is None
    with center.db.read() as s:
        row = job_store.get(s, job_id)
        assert row is not None and row.seq == seq and row.handle is None and row.engine is None
        assert row.preempt_requested_at is None and row.borrowing is False
    events = jobs.job_events(center, t.bob, job_id)
    moves = [(e.from_state, e.to_state) for e in events]
    assert moves[-3:] == [("RUNNING", "RUNNING"), ("RUNNING", "PREEMPTED"), ("PREEMPTED", "QUEUED")]
    assert events[-3].reason == (
        "preempted to make room for job f00d: project beta-b reclaims its quota; grace 30s"
    )
    assert "project beta-b reclaims its quota" in events[-2].reason
    assert published == [("job.preempted", {"job_id": job_id, "lost_accelerator_seconds": 70.0})]


def test_a_stopping_job_is_not_preempted_twice(center: Center, t: Tenants) -> None:
    job_id = running_job(center, t)
    first = execution.request_preemption(center, job_id, for_job="a", reason="r", grace_s=5)
    again = execution.request_preemption(center, job_id, for_job="b", reason="r", grace_s=5)
    assert first is not None and again is None
    cancelled = running_job(center, t)
    jobs.cancel_job(center, t.bob, cancelled)  # stopping because of a cancel
    assert (
        execution.request_preemption(center, cancelled, for_job="a", reason="r", grace_s=5) is None
    )
    assert (
        execution.request_preemption(center, "no-such-job", for_job="a", reason="r", grace_s=5)
        is None
    )


def test_cancel_during_a_preemption_ends_cancelled(center: Center, t: Tenants) -> None:
    job_id = running_job(center, t)
    assert execution.request_preemption(center, job_id, for_job="a", reason="r", grace_s=5)
    jobs.cancel_job(center, t.bob, job_id)
    execution.record_status(center, job_id, EngineStatus(Outcome.PREEMPTED, -15, "preempted"))
    view = jobs.get_job(center, t.bob, job_id)
    assert (view.state, view.preemptions, view.stopping) == ("CANCELLED", 0, False)
    assert "while it was being preempted" in view.state_reason


def test_the_accounting_hook_sees_every_run_that_ends(
    center: Center, t: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, float, bool]] = []
    monkeypatch.setattr(
        execution,
        "on_run_ended",
        lambda s, row, at, preempted: seen.append((row.id, row.state, at, preempted)),
    )
    preempted, finished = running_job(center, t), running_job(center, t)
    execution.request_preemption(center, preempted, for_job="a", reason="r", grace_s=5)
    center.clock = lambda: T0 + 20
    execution.record_status(center, preempted, EngineStatus(Outcome.PREEMPTED, 0, "p"))
    execution.record_status(center, finished, EngineStatus(Outcome.SUCCEEDED, 0, "exit code 0"))
    assert seen == [
        (preempted, "RUNNING", T0 + 20, True),
        (finished, "RUNNING", T0 + 20, False),
    ]


def test_an_admitted_job_without_a_process_is_simply_requeued(center: Center, t: Tenants) -> None:
    job = jobs.submit(
        center, t.bob, JobSpec.model_validate({"project": "acme-a", "command": ["true"]})
    )
    placement = Placement("local", (NodePlacement("node-1", 1, 1024, "a100", ()),))
    with center.db.transaction() as s:  # ADMITTED only (admit() goes on to STARTING)
        row = job_store.get(s, job.id, lock=True)
        assert row is not None
        job_store.apply_transition(s, row, JobState.ADMITTED, at=T0, reason="placed")
        row.placement = placement.to_dict()
    assert execution.request_preemption(center, job.id, for_job="a", reason="r", grace_s=5) is None
    view = jobs.get_job(center, t.bob, job.id)
    assert (view.state, view.preemptions, view.placement) == ("QUEUED", 0, None)


def wait_for(pred, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_controller_preempts_a_real_job_which_resumes_from_its_checkpoint(
    center: Center, t: Tenants
) -> None:
    # Attempt 1 saves a checkpoint on SIGTERM; attempt 2 finds it and finishes.
    script = (
        'if [ -f "$AIDC_CHECKPOINT_DIR/step" ]; then '
        'echo "resumed at $(cat $AIDC_CHECKPOINT_DIR/step) in attempt $AIDC_ATTEMPT"; exit 0; fi; '
        "trap 'echo 7 > $AIDC_CHECKPOINT_DIR/step; exit 0' TERM; sleep 30 & wait"
    )
    controller = Controller(center, tick_s=0.1)
    controller.start()
    try:
        spec = {"project": "acme-a", "script": script, "accelerators": 1}
        job_id = jobs.submit(center, t.bob, JobSpec.model_validate(spec)).id
        wait_for(lambda: jobs.get_job(center, t.bob, job_id).state == "RUNNING")
        time.sleep(0.3)  # let the script install its trap
        controller.preempt([Preemption(job_id, "f00d", "a test wants the device", 5.0)])
        wait_for(lambda: jobs.get_job(center, t.bob, job_id).state == "SUCCEEDED")
    finally:
        controller.stop()
    view = jobs.get_job(center, t.bob, job_id)
    assert (view.attempt, view.preemptions) == (2, 1) and view.lost_accelerator_seconds > 0
    states = [e.to_state for e in jobs.job_events(center, t.bob, job_id)]
    assert states.count("RUNNING") >= 3 and "PREEMPTED" in states
    log = jobs.read_log(center, t.bob, job_id, 0, 1 << 20).data.decode()
    assert "--- attempt 2 ---\nresumed at 7 in attempt 2\n" in log


def test_a_recorded_preemption_that_never_reached_the_engine_is_sent_on_the_next_pass(
    center: Center, t: Tenants
) -> None:
    # As if the server died between request_preemption and engine.preempt.
    script = '[ "$AIDC_ATTEMPT" = 2 ] && exit 0; trap "exit 0" TERM; sleep 30 & wait'
    controller = Controller(center, tick_s=0.1)
    controller.start()
    try:
        job_id = jobs.submit(
            center, t.bob, JobSpec.model_validate({"project": "acme-a", "script": script})
        ).id
        wait_for(lambda: jobs.get_job(center, t.bob, job_id).state == "RUNNING")
        time.sleep(0.3)  # let the script install its trap
        assert execution.request_preemption(center, job_id, for_job="x", reason="r", grace_s=5)
        wait_for(lambda: jobs.get_job(center, t.bob, job_id).state == "SUCCEEDED")
    finally:
        controller.stop()
    view = jobs.get_job(center, t.bob, job_id)
    assert (view.attempt, view.preemptions) == (2, 1)
