"""What people see of allocations: who may see which, the views and the history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.allocations import Action, AllocationState
from aidc.core.tenancy import Principal, Role
from aidc.schemas_allocations import AllocationEventView, AllocationView
from aidc.services import programs
from aidc.services.center import Center
from aidc.services.errors import Invalid, NotFound
from aidc.store.models import Organisation, Project, User
from aidc.store.models_allocations import Allocation, AllocationEvent, Program

# Approvals since the last of these count towards required_approvals.
ROUND_STARTS = (Action.REQUEST, Action.RESUBMIT, Action.ASK_CHANGES)


def list_allocations(
    center: Center,
    p: Principal,
    *,
    state: str | None = None,
    program: str | None = None,
    project: str | None = None,
) -> list[AllocationView]:
    with center.db.read() as s:
        q = select(Allocation).order_by(Allocation.id.desc())
        if p.role not in (Role.CENTER_ADMIN, Role.REVIEWER):
            if p.role is Role.ORG_ADMIN:
                q = q.where(Allocation.org_id == p.org_id)
            else:
                q = q.where(Allocation.project_id.in_(p.project_ids))
        if state:
            try:
                q = q.where(Allocation.state == AllocationState(state))
            except ValueError:
                raise Invalid(
                    f"unknown state {state!r}; use one of {', '.join(AllocationState)}",
                    field="state",
                ) from None
        if program:
            q = q.where(Allocation.program_id == programs.by_name(s, program).id)
        if project:
            q = q.join(Project, Project.id == Allocation.project_id).where(Project.name == project)
        return [view(s, a) for a in s.scalars(q)]


def show(center: Center, p: Principal, allocation_id: int) -> AllocationView:
    with center.db.read() as s:
        return view(s, visible(s, p, allocation_id))


def history(center: Center, p: Principal, allocation_id: int) -> list[AllocationEventView]:
    with center.db.read() as s:
        a = visible(s, p, allocation_id)
        return [
            AllocationEventView(
                at=e.at,
                actor=e.actor,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
                details=dict(e.details),
            )
            for e in events(s, a.id)
        ]


def visible(s: Session, p: Principal, allocation_id: int, *, lock: bool = False) -> Allocation:
    """The allocation if ``p`` may see it: reviewers and operators all, an org admin their
    organisation's, members their projects'. Otherwise NotFound, like absence."""
    # ``lock``: a step reads and writes the row under a row lock (PostgreSQL), so that two
    # decisions at once cannot both start from the same state.
    a = s.get(Allocation, allocation_id, with_for_update=lock)
    if a is not None and (
        p.role in (Role.CENTER_ADMIN, Role.REVIEWER)
        or (p.role is Role.ORG_ADMIN and a.org_id == p.org_id)
        or a.project_id in p.project_ids
    ):
        return a
    raise NotFound(f"no allocation {allocation_id}", field="allocation")


def approvers(s: Session, a: Allocation) -> list[str]:
    """Who approved ``a`` since it was last (re)submitted, in order."""
    who: list[str] = []
    for e in events(s, a.id):
        if e.action in ROUND_STARTS:
            who = []
        elif e.action == Action.APPROVE and e.actor not in who:
            who.append(e.actor)
    return who


def round_approvals(s: Session, a: Allocation) -> list[dict[str, Any]]:
    """The amounts each approval of this round granted (details of its event)."""
    out: list[dict[str, Any]] = []
    for e in events(s, a.id):
        if e.action in ROUND_STARTS:
            out = []
        elif e.action == Action.APPROVE:
            out.append(dict(e.details))
    return out


def view(s: Session, a: Allocation) -> AllocationView:
    prog = s.get(Program, a.program_id)
    proj = s.get(Project, a.project_id)
    org = s.get(Organisation, a.org_id)
    user = s.get(User, a.requested_by)
    assert prog and proj and org and user
    return AllocationView(
        id=a.id,
        program=prog.name,
        project=proj.name,
        organisation=org.name,
        kind=a.kind,
        parent_id=a.parent_id,
        state=a.state,
        justification=a.justification,
        requested_hours=_floats(a.requested_hours),
        requested_quota=_floats(a.requested_quota),
        requested_storage_gb=a.requested_storage_gb,
        granted_hours=_floats(a.granted_hours) if a.granted_hours is not None else None,
        granted_quota=_floats(a.granted_quota) if a.granted_quota is not None else None,
        granted_storage_gb=a.granted_storage_gb,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        requested_by=user.username,
        approvals=approvers(s, a) if a.state == AllocationState.REQUESTED else [],
        required_approvals=programs.required_approvals(prog),
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


def events(s: Session, allocation_id: int) -> list[AllocationEvent]:
    return list(
        s.scalars(
            select(AllocationEvent)
            .where(AllocationEvent.allocation_id == allocation_id)
            .order_by(AllocationEvent.id)
        )
    )


def _floats(m: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in m.items()}
