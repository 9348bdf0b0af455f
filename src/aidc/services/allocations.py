"""Allocations as organisations file them: requests, resubmissions, withdrawals, renewals
and change requests, and who may see what of them.

Reviewers' decisions are in ``allocation_review``; what a grant does to the center (credit
accounts, quota, expiry) in ``grants``. Every step is looked up in the transition table
(``core.allocations``) and written with its history line in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.allocations import Action, AllocationKind, AllocationState, IllegalTransition, after
from aidc.core.tenancy import Principal, Role
from aidc.schemas_allocations import AllocationView
from aidc.services import audit, grants, programs
from aidc.services.allocation_asks import Ask, check_ask, check_change
from aidc.services.allocation_views import view, visible
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.store.models import Project
from aidc.store.models_allocations import Allocation, AllocationEvent, Program


def request(
    center: Center,
    p: Principal,
    *,
    project: str,
    program: str,
    justification: str,
    hours: Mapping[str, float],
    quota: Mapping[str, float] | None = None,
    storage_gb: float = 0.0,
    starts_at: float,
    ends_at: float,
) -> AllocationView:
    """An org admin asks a program for capacity for a project of their organisation."""
    now = center.clock()
    with center.db.transaction() as s:
        proj = _own_project(s, p, project)
        prog = programs.by_name(s, program)
        ask = check_ask(
            s, prog, proj.org_id, justification, hours, quota or {}, storage_gb, starts_at, ends_at
        )
        a = _new(s, p, prog, proj, AllocationKind.NEW, None, ask, now)
        return view(s, a)


def renew(
    center: Center,
    p: Principal,
    allocation_id: int,
    *,
    justification: str,
    hours: Mapping[str, float],
    quota: Mapping[str, float] | None = None,
    storage_gb: float = 0.0,
    starts_at: float,
    ends_at: float,
    program: str | None = None,
) -> AllocationView:
    """A new request continuing an active or expired allocation; reviewed like any other."""
    now = center.clock()
    with center.db.transaction() as s:
        parent = visible(s, p, allocation_id, lock=True)
        require_org_admin(p, parent, "renew")
        if parent.kind == AllocationKind.CHANGE:
            raise Conflict("a change request is not renewed; renew the allocation it changed")
        step(s, parent, p, Action.RENEW, "renewal requested", now=now)
        prog = programs.by_name(s, program) if program else _program(s, parent)
        proj = s.get(Project, parent.project_id)
        assert proj is not None
        ask = check_ask(
            s, prog, proj.org_id, justification, hours, quota or {}, storage_gb, starts_at, ends_at
        )
        a = _new(s, p, prog, proj, AllocationKind.RENEWAL, parent.id, ask, now)
        return view(s, a)


def change(
    center: Center,
    p: Principal,
    allocation_id: int,
    *,
    justification: str,
    hours: Mapping[str, float] | None = None,
    quota: Mapping[str, float] | None = None,
    storage_gb: float = 0.0,
    ends_at: float | None = None,
) -> AllocationView:
    """Ask to amend an active allocation: more hours, another quota, a later end."""
    now = center.clock()
    with center.db.transaction() as s:
        parent = visible(s, p, allocation_id, lock=True)
        require_org_admin(p, parent, "ask to change")
        if parent.kind == AllocationKind.CHANGE:
            raise Conflict("a change request cannot itself be changed; change its parent")
        step(s, parent, p, Action.CHANGE, "change requested", now=now)
        prog = _program(s, parent)
        ask = check_change(
            s, prog, parent, justification, hours or {}, quota or {}, storage_gb, ends_at, now
        )
        proj = s.get(Project, parent.project_id)
        assert proj is not None
        a = _new(s, p, prog, proj, AllocationKind.CHANGE, parent.id, ask, now)
        return view(s, a)


def resubmit(
    center: Center, p: Principal, allocation_id: int, *, reason: str = "", **changes: Any
) -> AllocationView:
    """The org admin amends a request reviewers sent back, and puts it up for review."""
    now = center.clock()
    with center.db.transaction() as s:
        a = visible(s, p, allocation_id, lock=True)
        require_org_admin(p, a, "resubmit")
        after_or_conflict(a, Action.RESUBMIT)
        prog = _program(s, a)
        given = {k: v for k, v in changes.items() if v is not None}
        j = given.get("justification", a.justification)
        hours = given.get("hours", a.requested_hours)
        quota = given.get("quota", a.requested_quota)
        storage = given.get("storage_gb", a.requested_storage_gb)
        if a.kind == AllocationKind.CHANGE:
            parent = s.get(Allocation, a.parent_id)
            assert parent is not None
            ask = check_change(
                s, prog, parent, j, hours, quota, storage, given.get("ends_at", a.ends_at), now
            )
        else:
            starts = given.get("starts_at", a.starts_at)
            ends = given.get("ends_at", a.ends_at)
            ask = check_ask(s, prog, a.org_id, j, hours, quota, storage, starts, ends)
        _set_ask(a, ask)
        step(s, a, p, Action.RESUBMIT, reason, now=now, details=_ask_details(ask))
        return view(s, a)


def withdraw(center: Center, p: Principal, allocation_id: int, reason: str = "") -> AllocationView:
    now = center.clock()
    with center.db.transaction() as s:
        a = visible(s, p, allocation_id, lock=True)
        require_org_admin(p, a, "withdraw")
        step(s, a, p, Action.WITHDRAW, reason, now=now)
        return view(s, a)


def comment(center: Center, p: Principal, allocation_id: int, text: str) -> AllocationView:
    """A note in the history, from a reviewer, a center admin or the organisation's admin."""
    now = center.clock()
    if not text.strip():
        raise Invalid("a comment needs some text", field="reason")
    with center.db.transaction() as s:
        a = visible(s, p, allocation_id, lock=True)
        if p.role not in (Role.REVIEWER, Role.CENTER_ADMIN):
            require_org_admin(p, a, "comment on")
        step(s, a, p, Action.COMMENT, text, now=now)
        return view(s, a)


# -- shared with allocation_review --------------------------------------------------------


def require_org_admin(p: Principal, a: Allocation, what: str) -> None:
    if not (p.role is Role.ORG_ADMIN and p.org_id == a.org_id):
        raise Forbidden(f"only the requesting organisation's admins {what} allocation {a.id}")


def after_or_conflict(a: Allocation, action: Action, *, last: bool = True) -> AllocationState:
    try:
        return after(a.state, action, kind=a.kind, last_approval=last)
    except IllegalTransition as e:
        raise Conflict(f"allocation {a.id}: {e}", field="state") from None


# Decisions on allocations that the security log keeps.
AUDITED = frozenset({Action.APPROVE, Action.REJECT, Action.ASK_CHANGES, Action.WITHDRAW})


def step(
    s: Session,
    a: Allocation,
    p: Principal | None,
    action: Action,
    reason: str,
    *,
    now: float,
    last: bool = True,
    details: dict[str, object] | None = None,
) -> None:
    """Take ``action`` on ``a`` if the table allows it, with its history line."""
    to = after_or_conflict(a, action, last=last)
    if action in AUDITED:
        audit.record(
            s,
            at=now,
            actor=p.username if p else "aidc",
            action=f"allocation.{action}",
            target_kind="allocation",
            target=a.id,
            org_id=a.org_id,
            to_state=str(to),
        )
    grants.record_event(
        s,
        a,
        at=now,
        actor=p.username if p else "aidc",
        action=action,
        to_state=to,
        reason=reason,
        details=details,
    )


def _own_project(s: Session, p: Principal, name: str) -> Project:
    proj = s.scalars(select(Project).where(Project.name == name)).one_or_none()
    if proj is None or not (
        p.is_center_admin or p.org_id == proj.org_id or proj.id in p.project_ids
    ):
        raise NotFound(f"no project called {name!r}", field="project")
    if not (p.role is Role.ORG_ADMIN and p.org_id == proj.org_id):
        raise Forbidden(
            "only the project's organisation admins request allocations", field="project"
        )
    return proj


def _program(s: Session, a: Allocation) -> Program:
    prog = s.get(Program, a.program_id)
    assert prog is not None
    return prog


def _new(
    s: Session,
    p: Principal,
    prog: Program,
    proj: Project,
    kind: AllocationKind,
    parent_id: int | None,
    ask: Ask,
    now: float,
) -> Allocation:
    a = Allocation(
        program_id=prog.id,
        project_id=proj.id,
        org_id=proj.org_id,
        kind=kind,
        parent_id=parent_id,
        state=AllocationState.REQUESTED,
        requested_by=p.user_id,
        created_at=now,
        updated_at=now,
    )
    _set_ask(a, ask)
    s.add(a)
    s.flush()
    s.add(
        AllocationEvent(
            allocation_id=a.id,
            at=now,
            actor=p.username,
            action=Action.REQUEST,
            from_state=None,
            to_state=a.state,
            reason="",
            details=_ask_details(ask),
        )
    )
    s.flush()
    return a


def _set_ask(a: Allocation, ask: Ask) -> None:
    a.justification = ask["justification"]
    a.requested_hours = dict(ask["hours"])
    a.requested_quota = dict(ask["quota"])
    a.requested_storage_gb = ask["storage_gb"]
    a.starts_at = ask["starts_at"]
    a.ends_at = ask["ends_at"]


def _ask_details(ask: Ask) -> dict[str, object]:
    return {k: v for k, v in ask.items() if k != "justification"}
