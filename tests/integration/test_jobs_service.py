"""Job use cases against a real database, with the controller and the local engine."""

from __future__ import annotations

import time

import pytest

from aidc.controller import Controller
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.services import auth, jobs
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from aidc.services.nodes import list_nodes
from tests.integration.tenants import Tenants, make_tenants


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def spec(project: str = "acme-a", **kw: object) -> JobSpec:
    return JobSpec.model_validate({"project": project, "command": ["sleep", "30"], **kw})


def test_submit_queues_with_history_and_position(center: Center, t: Tenants) -> None:
    first = jobs.submit(center, t.bob, spec())
    second = jobs.submit(center, t.bob, spec())
    assert (first.state, first.queue_position, second.queue_position) == ("QUEUED", 1, 2)
    assert [e.to_state for e in jobs.job_events(center, t.bob, first.id)] == ["QUEUED"]
    assert len(first.id) == 16 and first.id != second.id


def test_submit_refuses_what_the_caller_may_not_do(center: Center, t: Tenants) -> None:
    with pytest.raises(Invalid) as e:
        jobs.submit(center, t.carol, spec("acme-a"))
    assert e.value.field == "project" and "beta-b" in e.value.message
    with pytest.raises(Forbidden):
        jobs.submit(center, t.vic, spec())
    with pytest.raises(Invalid) as e:
        jobs.submit(center, t.bob, spec(accelerators=8))
    assert e.value.field == "accelerators" and "4" in e.value.message
    with pytest.raises(Invalid) as e:
        jobs.submit(center, t.bob, spec(accelerators=1, accelerator_type="h100"))
    assert e.value.field == "accelerator_type" and "a100" in e.value.message
    assert jobs.list_jobs(center, t.root) == []  # nothing half-written


def test_visibility_follows_projects_and_organisations(center: Center, t: Tenants) -> None:
    mine = jobs.submit(center, t.bob, spec())
    theirs = jobs.submit(center, t.carol, spec("beta-b"))
    assert [j.id for j in jobs.list_jobs(center, t.bob)] == [mine.id]
    assert [j.id for j in jobs.list_jobs(center, t.alice)] == [mine.id]
    assert [j.id for j in jobs.list_jobs(center, t.carol)] == [theirs.id]
    assert {j.id for j in jobs.list_jobs(center, t.root)} == {mine.id, theirs.id}
    for call in (jobs.get_job, jobs.job_events, jobs.cancel_job):
        with pytest.raises(NotFound):
            call(center, t.carol, mine.id)
    assert jobs.list_jobs(center, t.root, project="beta-b")[0].id == theirs.id
    assert jobs.list_jobs(center, t.root, user="bob")[0].id == mine.id
    assert jobs.list_jobs(center, t.root, state=JobState.RUNNING) == []


def test_cancel_rules(center: Center, t: Tenants) -> None:
    job = jobs.submit(center, t.alice, spec())
    with pytest.raises(Forbidden):
        jobs.cancel_job(center, t.bob, job.id)  # same project, not the owner, not an admin
    assert jobs.cancel_job(center, t.alice, job.id).state == "CANCELLED"
    with pytest.raises(Conflict, match="already finished as CANCELLED"):
        jobs.cancel_job(center, t.alice, job.id)
    other = jobs.submit(center, t.bob, spec())
    assert jobs.cancel_job(center, t.alice, other.id).state == "CANCELLED"  # org admin


def test_tokens_are_hashed_revocable_and_expire(center: Center, t: Tenants) -> None:
    from sqlalchemy import select

    from aidc.store.models import ApiToken

    token = auth.issue_token(center, "bob", ttl_s=60)
    assert auth.authenticate(center, token).username == "bob"
    with center.db.transaction() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
        assert token not in stored and auth.hash_token(token) in stored
    center.clock = lambda: time.time() + 120
    with pytest.raises(Unauthenticated, match="expired"):
        auth.authenticate(center, token)
    with pytest.raises(Unauthenticated):
        auth.authenticate(center, None)


def wait_for(pred, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_controller_runs_jobs_fifo_without_sharing_devices(center: Center, t: Tenants) -> None:
    controller = Controller(center, tick_s=0.1)
    controller.start()
    try:
        ids = [
            jobs.submit(center, t.bob, spec(accelerators=2, command=["sleep", "1"])).id
            for _ in range(3)
        ]
        wait_for(lambda: jobs.get_job(center, t.bob, ids[1]).state == "RUNNING")
        views = [jobs.get_job(center, t.bob, i) for i in ids]
        assert [v.state for v in views] == ["RUNNING", "RUNNING", "QUEUED"]
        held = [set(v.placement["nodes"][0]["devices"]) for v in views[:2]]
        assert held[0].isdisjoint(held[1]) and held[0] | held[1] == {0, 1, 2, 3}
        node = list_nodes(center, t.bob)[0]
        assert (node.accelerators_used, node.free_devices) == (4, [])
        wait_for(lambda: all(jobs.get_job(center, t.bob, i).state == "SUCCEEDED" for i in ids))
    finally:
        controller.stop()


def test_recover_marks_a_job_lost_that_never_launched(center: Center, t: Tenants) -> None:
    from aidc.scheduler import plan
    from aidc.services import execution

    job = jobs.submit(center, t.bob, spec())
    (decision,) = plan(execution.snapshot(center)).admit
    assert execution.admit(center, decision) is not None  # STARTING, then "the server died"
    Controller(center).recover()
    after = jobs.get_job(center, t.bob, job.id)
    assert after.state == "LOST" and "never started" in after.state_reason


def test_a_revoked_token_stops_working_within_the_auth_cache_time(
    center: Center, t: Tenants
) -> None:
    from sqlalchemy import update

    from aidc.store.models import ApiToken

    now = time.time()
    center.clock = lambda: now
    token = auth.issue_token(center, "bob")
    assert auth.authenticate(center, token).username == "bob"
    with center.db.transaction() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == auth.hash_token(token))
            .values(revoked_at=now)
        )
    center.clock = lambda: now + auth.AUTH_CACHE_S + 0.01
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(center, token)


def test_a_snapshot_passes_on_the_queued_jobs_it_knows(center: Center, t: Tenants) -> None:
    """The controller's snapshot reuses the previous one's queued jobs (the same objects, so
    its Planner regroups only what changed), reads the new ones, drops the gone ones, and
    keeps submission order: the same queue as a fresh read."""
    from dataclasses import astuple

    from aidc.services import execution

    a, b, c = (jobs.submit(center, t.bob, spec(accelerators=n)) for n in (1, 2, 3))
    before = execution.snapshot(center)
    jobs.cancel_job(center, t.bob, b.id)
    d = jobs.submit(center, t.bob, spec(accelerators=4, nice=5))
    after = execution.snapshot(center, before)
    fresh = execution.snapshot(center)
    assert [j.job_id for j in after.queue] == [a.id, c.id, d.id]
    assert [astuple(j) for j in after.queue] == [astuple(j) for j in fresh.queue]
    old = {j.job_id: j for j in before.queue}
    assert after.queue[0] is old[a.id] and after.queue[1] is old[c.id]
    assert after.queue[2].nice == 5 and after.queue[2].request.accelerators == 4
