"""The scheduler through the services: submit checks, stored explanations, policy reload."""

from __future__ import annotations

import pytest

from aidc.controller.loop import Controller
from aidc.core.jobspec import JobSpec
from aidc.services import execution, jobs, policy, quota_admin
from aidc.services.center import Center
from aidc.services.errors import Invalid
from tests.integration.tenants import Tenants, make_tenants


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def spec(project: str = "acme-a", **kw: object) -> JobSpec:
    return JobSpec.model_validate({"project": project, "command": ["sleep", "30"], **kw})


def test_interactive_job_beyond_nominal_quota_is_refused_at_submit(
    center: Center, t: Tenants
) -> None:
    quota_admin.set_quota(center, t.root, project="acme-a", resource="a100", nominal=2)
    with pytest.raises(Invalid) as e:
        jobs.submit(center, t.bob, spec(accelerators=3, priority_class="interactive"))
    assert e.value.field == "priority_class"
    assert "a100 nominal 2" in str(e.value) and "asks 3" in str(e.value)
    # Within nominal it is accepted; as normal work it may borrow.
    jobs.submit(center, t.bob, spec(accelerators=2, priority_class="interactive"))
    jobs.submit(center, t.bob, spec(accelerators=3))


def test_waiting_jobs_show_the_schedulers_reason_and_position(center: Center, t: Tenants) -> None:
    quota_admin.set_quota(center, t.root, project="beta-b", resource="a100", nominal=3)
    quota_admin.set_quota(
        center, t.root, project="acme-a", resource="a100", nominal=1, borrowing_limit=0
    )
    first = jobs.submit(center, t.bob, spec(accelerators=1, command=["sleep", "2"]))
    second = jobs.submit(center, t.bob, spec(accelerators=1))
    controller = Controller(center)
    try:
        controller.tick()
        view = jobs.get_job(center, t.bob, second.id)
        assert view.state == "QUEUED" and view.wait is not None
        assert view.wait.reason == "quota"
        assert "project acme-a: a100 quota 1/1 used, asks 1" in view.wait.message
        assert view.queue_position == 1 and view.wait.project_position == 1
        assert jobs.get_job(center, t.bob, first.id).state in {"STARTING", "RUNNING"}
        # Another tenant never sees these explanations.
        with pytest.raises(Exception, match="no job"):
            jobs.get_job(center, t.carol, second.id)
    finally:
        jobs.cancel_job(center, t.bob, second.id)


def test_explanations_are_refreshed_at_most_once_an_interval(center: Center, t: Tenants) -> None:
    """Deciding happens every pass; the waiting jobs' explanations (built on first read) are
    stored at most once per ``waits_interval_s``, with every change since."""
    now = [1_000.0]
    center.clock = lambda: now[0]
    quota_admin.set_quota(
        center, t.root, project="acme-a", resource="a100", nominal=1, borrowing_limit=0
    )
    held = jobs.submit(center, t.bob, spec(accelerators=1))
    second = jobs.submit(center, t.bob, spec(accelerators=1))
    made = [held, second]
    controller = Controller(center)
    controller.waits_interval_s = 10
    try:
        controller.tick()
        assert jobs.get_job(center, t.bob, second.id).wait is not None
        third = jobs.submit(center, t.bob, spec(accelerators=1))
        made.append(third)
        now[0] += 1
        controller.tick()
        assert jobs.get_job(center, t.bob, third.id).wait is None  # not refreshed yet
        now[0] += 10
        controller.tick()
        view = jobs.get_job(center, t.bob, third.id)
        assert view.wait is not None and view.wait.reason == "quota"
        assert view.wait.project_position == 2
    finally:
        for job in made:
            jobs.cancel_job(center, t.bob, job.id)


def test_a_new_policy_applies_on_the_next_pass(center: Center, t: Tenants) -> None:
    assert execution.snapshot(center).policy.preset == "fairshare"
    policy.set_preset(center, t.root, "sjf")
    assert execution.snapshot(center).policy.preset == "sjf"
    policy.set_policy(center, t.root, 'preset = "fifo"\n[backfill]\nenabled = true\n')
    snap = execution.snapshot(center)
    assert snap.policy.ordering == "fifo" and snap.policy.backfill.enabled
