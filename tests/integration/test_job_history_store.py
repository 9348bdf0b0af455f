"""In the store, a job moves only as the state machine allows, and each move is recorded."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aidc.core.job_states import ALLOWED, IllegalTransition, JobState
from aidc.core.resources import Request
from aidc.services.center import Center
from aidc.store import jobs as job_store
from aidc.store.models import Project
from tests.integration.tenants import make_tenants


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(targets=st.lists(st.sampled_from(list(JobState)), max_size=12))
def test_stored_state_follows_the_machine_and_finished_jobs_never_change(
    center: Center, targets: list[JobState]
) -> None:
    if not hasattr(center, "_tenants"):
        center._tenants = make_tenants(center)  # type: ignore[attr-defined]
    with center.db.transaction() as s:
        project_id = s.scalars(select(Project.id).where(Project.name == "acme-a")).one()
        row = job_store.add_job(
            s,
            job_id=f"h{len(targets)}{id(targets)}",
            project_id=project_id,
            user_id=1,
            spec={},
            request=Request(nodes=1, cpus=1, memory_mib=1, accelerators=0),
            time_limit_s=60,
            at=0.0,
            actor="t",
        )
        expected = [JobState.QUEUED]
        for i, target in enumerate(targets):
            before = JobState(row.state)
            try:
                job_store.apply_transition(s, row, target, at=float(i + 1), reason="test")
            except IllegalTransition:
                assert target not in ALLOWED[before]
                assert JobState(row.state) is before
            else:
                assert target in ALLOWED[before] and not before.is_terminal
                expected.append(target)
        history = job_store.events(s, row)
        assert [e.to_state for e in history] == expected
        assert [e.from_state for e in history[1:]] == expected[:-1]
        if JobState(row.state).is_terminal:
            assert row.finished_at is not None
        s.rollback()
