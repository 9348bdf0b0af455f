"""Fair-share usage on both databases: finished runs plus the partial runs of jobs now."""

from __future__ import annotations

import math

from sqlalchemy import select

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement
from aidc.scheduler import Decision
from aidc.services import execution, jobs
from aidc.services.center import Center
from aidc.services.usage import RunTimeUsage, UsageSource, record_run
from aidc.store import jobs as job_store
from aidc.store.models import Project, ProjectUsage
from tests.integration.tenants import make_tenants

H = 3600.0


def test_usage_adds_finished_runs_and_what_runs_now(center: Center) -> None:
    t = make_tenants(center)
    source: UsageSource = RunTimeUsage()
    two_a100 = Placement("local", (NodePlacement("node-1", 2, 1024, "a100", (0, 1)),))
    with center.db.transaction() as s:
        acme = s.scalar(select(Project.id).where(Project.name == "acme-a"))
        assert acme is not None
        record_run(
            s, acme, placement=two_a100, started_at=0, ended_at=H, half_life_s=H, preempted=True
        )
        row = s.get(ProjectUsage, acme)
        assert row is not None
        assert (row.accelerator_seconds, row.lost_accelerator_seconds, row.preemptions) == (
            2 * H,
            2 * H,
            1,
        )
    spec = JobSpec.model_validate(
        {"project": "beta-b", "command": ["true"], "accelerators": 2, "accelerator_type": "a100"}
    )
    job = jobs.submit(center, t.carol, spec)
    assert execution.admit(center, Decision(job.id, two_a100)) is not None
    with center.db.transaction() as s:
        row_ = job_store.get(s, job.id)
        assert row_ is not None
        job_store.apply_transition(s, row_, JobState.RUNNING, at=2 * H, reason="test")
    with center.db.read() as s:
        usage = source.decayed(s, 3 * H, H)
    # acme-a: 2 devices for one hour, two half-lives ago; beta-b: 2 devices for the last hour.
    one_hour = 2 * H / math.log(2) * 0.5
    assert math.isclose(usage["acme-a"], one_hour / 4, rel_tol=1e-12)
    assert math.isclose(usage["beta-b"], one_hour, rel_tol=1e-12)
