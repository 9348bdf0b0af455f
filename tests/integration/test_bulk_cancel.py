"""Cancelling many jobs at once: one transaction, a result per job, tenants kept apart."""

from __future__ import annotations

import pytest

from aidc.controller import Controller
from aidc.core.jobspec import JobSpec
from aidc.core.tenancy import Principal
from aidc.services import jobs
from aidc.services.center import Center
from aidc.services.errors import Invalid
from tests.integration.tenants import Tenants, make_tenants
from tests.integration.test_jobs_service import wait_for


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def submit(center: Center, who: Principal, project: str, *command: str, gpus: int = 0) -> str:
    spec = {"project": project, "command": list(command), "accelerators": gpus}
    return jobs.submit(center, who, JobSpec.model_validate(spec)).id


def test_each_job_gets_its_result_and_running_ones_stop(center: Center, t: Tenants) -> None:
    controller = Controller(center, tick_s=0.05)
    controller.start()
    try:
        done = submit(center, t.bob, "acme-a", "true")
        wait_for(lambda: jobs.get_job(center, t.bob, done).state == "SUCCEEDED")
        running = submit(center, t.bob, "acme-a", "sleep", "60", gpus=4)  # every GPU
        wait_for(lambda: jobs.get_job(center, t.bob, running).state == "RUNNING")
        queued = [submit(center, t.bob, "acme-a", "true", gpus=1) for _ in range(3)]
        foreign = submit(center, t.carol, "beta-b", "true", gpus=1)
        ids = [running, *queued, done, foreign, "nonexistent", running]
        results = {r.job_id: r for r in jobs.cancel_jobs(center, t.bob, ids)}
        assert len(results) == 7  # the repeated id is cancelled once
        assert results[running].result == "stopping"
        assert [results[j].result for j in queued] == ["cancelled"] * 3
        assert results[done].result == "finished"
        # Another organisation's job answers exactly like one that does not exist.
        assert results[foreign].result == "not found"
        assert results["nonexistent"].result == "not found"
        assert results[foreign].message == "no job " + repr(foreign)
        wait_for(lambda: jobs.get_job(center, t.bob, running).state == "CANCELLED")
        assert all(jobs.get_job(center, t.bob, j).state == "CANCELLED" for j in queued)
        wait_for(lambda: jobs.get_job(center, t.carol, foreign).state == "SUCCEEDED")
    finally:
        controller.stop()


def test_a_viewer_cannot_cancel_and_empty_or_huge_requests_are_refused(
    center: Center, t: Tenants
) -> None:
    job = submit(center, t.bob, "acme-a", "sleep", "60")
    (result,) = jobs.cancel_jobs(center, t.vic, [job])
    assert result.result == "forbidden"
    assert jobs.get_job(center, t.bob, job).state == "QUEUED"
    with pytest.raises(Invalid) as e:
        jobs.cancel_jobs(center, t.bob, [])
    assert e.value.field == "ids"
    with pytest.raises(Invalid):
        jobs.cancel_jobs(center, t.bob, [f"j{i}" for i in range(1001)])
