"""The security audit log records tokens, role changes, allocation decisions, admin
cancels and preemptions in the action's own transaction; center admins read it."""

from __future__ import annotations

import pytest

from aidc.core.jobspec import JobSpec
from aidc.services import audit, auth, jobs, organisations, tokens
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, NotFound, Unauthenticated
from tests.integration.alloc_world import make_world
from tests.integration.tenants import make_tenants


def actions(c: Center) -> list[tuple[str, str, str]]:
    root = auth.authenticate(c, auth.issue_token(c, "root"))
    return [(e.actor, e.action, e.target) for e in audit.list_events(c, root)]


def test_tokens_issued_and_revoked_are_logged_without_their_secret(center: Center) -> None:
    t = make_tenants(center)
    issued = tokens.issue(center, t.bob, "laptop", ttl_s=3600)
    assert issued.expires_at == pytest.approx(center.clock() + 3600, abs=5)
    assert [x.name for x in tokens.list_tokens(center, t.bob)] == ["cli", "laptop"]
    auth.authenticate(center, issued.token)
    tokens.revoke(center, t.bob, issued.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(center, issued.token)
    with pytest.raises(Conflict):
        tokens.revoke(center, t.bob, issued.id)
    root = auth.authenticate(center, auth.issue_token(center, "root"))
    events = audit.list_events(center, root)
    assert ("bob", "token.issued", str(issued.id)) in [
        (e.actor, e.action, e.target) for e in events
    ]
    assert ("bob", "token.revoked", str(issued.id)) in [
        (e.actor, e.action, e.target) for e in events
    ]
    assert all(issued.token not in str(e.details) for e in events)


def test_another_users_token_is_not_found_unless_center_admin(center: Center) -> None:
    t = make_tenants(center)
    mine = tokens.list_tokens(center, t.bob)[0]
    with pytest.raises(NotFound):
        tokens.revoke(center, t.carol, mine.id)
    with pytest.raises(NotFound):
        tokens.list_tokens(center, t.carol, user="bob")
    assert tokens.list_tokens(center, t.root, user="bob")[0].id == mine.id
    tokens.revoke(center, t.root, mine.id)
    assert ("root", "token.revoked", str(mine.id)) in actions(center)


def test_role_changes_and_admin_cancels_are_logged(center: Center) -> None:
    t = make_tenants(center)
    organisations.set_role(center, t.alice, "Acme", "vic", "member")
    job = jobs.submit(center, t.bob, JobSpec(project="acme-a", command=["true"]))
    jobs.cancel_job(center, t.alice, job.id)  # the org admin cancels bob's job
    own = jobs.submit(center, t.bob, JobSpec(project="acme-a", command=["true"]))
    jobs.cancel_job(center, t.bob, own.id)  # an owner's own cancel is no security event
    logged = actions(center)
    assert ("alice", "role.changed", "vic") in logged
    assert ("alice", "job.cancelled_by_admin", job.id) in logged
    assert not [a for a in logged if a[2] == own.id]


def test_allocation_decisions_are_logged(center: Center) -> None:
    w = make_world(center)
    a = w.request()
    from aidc.services import allocation_review

    allocation_review.ask_changes(center, w.rev1, a.id, "say more")
    logged = actions(center)
    assert ("rev1", "allocation.ask-changes", str(a.id)) in logged


def test_only_center_admins_read_the_log(center: Center) -> None:
    t = make_tenants(center)
    for p in (t.alice, t.bob, t.carol):
        with pytest.raises(Forbidden):
            audit.list_events(center, p)


def test_preemptions_are_logged_as_the_controllers(center: Center) -> None:
    from aidc.services import execution
    from tests.integration.test_preemption_service import running_job

    t = make_tenants(center)
    job_id = running_job(center, t)
    assert execution.request_preemption(center, job_id, for_job="big", reason="r", grace_s=5)
    assert ("controller", "job.preempted", job_id) in actions(center)
