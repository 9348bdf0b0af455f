"""An allocation's states and the one table of what may move it where.

Pure: the services look up every step here before they write it, and the property tests
check that no sequence of actions ever leaves the table.
"""

from __future__ import annotations

from enum import StrEnum


class AllocationState(StrEnum):
    REQUESTED = "requested"
    CHANGES_REQUESTED = "changes-requested"
    APPROVED = "approved"  # granted; starts at its start date
    ACTIVE = "active"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    APPLIED = "applied"  # an approved change request, folded into its parent


class OnExhausted(StrEnum):
    """What happens to a project's new jobs once its credits are used up."""

    HOLD = "hold"  # new jobs wait with the reason; running jobs finish
    OPPORTUNISTIC = "opportunistic"  # new jobs run only on idle capacity, preemptible
    NOTIFY = "notify"  # nothing is held; the organisation is told


class AllocationKind(StrEnum):
    NEW = "new"
    RENEWAL = "renewal"  # continues ``parent_id`` (active or expired), reviewed again
    CHANGE = "change"  # amends the active ``parent_id`` once approved


class Action(StrEnum):
    """What people (and the calendar) do to an allocation; each is one history line."""

    REQUEST = "request"
    COMMENT = "comment"
    ASK_CHANGES = "ask-changes"
    RESUBMIT = "resubmit"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    ACTIVATE = "activate"
    EXPIRE = "expire"
    # On an allocation, without moving it: a renewal or a change request was filed for it.
    RENEW = "renew"
    CHANGE = "change"


S = AllocationState
A = Action

# state -> action -> the state it leads to. An approval short of the program's
# required_approvals leaves the request where it is; the last one grants (see ``after``).
TRANSITIONS: dict[AllocationState, dict[Action, AllocationState]] = {
    S.REQUESTED: {
        A.COMMENT: S.REQUESTED,
        A.ASK_CHANGES: S.CHANGES_REQUESTED,
        A.APPROVE: S.APPROVED,
        A.REJECT: S.REJECTED,
        A.WITHDRAW: S.WITHDRAWN,
    },
    S.CHANGES_REQUESTED: {
        A.COMMENT: S.CHANGES_REQUESTED,
        A.RESUBMIT: S.REQUESTED,
        A.REJECT: S.REJECTED,
        A.WITHDRAW: S.WITHDRAWN,
    },
    S.APPROVED: {
        A.COMMENT: S.APPROVED,
        A.ACTIVATE: S.ACTIVE,
        A.EXPIRE: S.EXPIRED,
    },
    S.ACTIVE: {
        A.COMMENT: S.ACTIVE,
        A.EXPIRE: S.EXPIRED,
        A.RENEW: S.ACTIVE,
        A.CHANGE: S.ACTIVE,
    },
    # Once over, an allocation only lends its history to a renewal.
    S.EXPIRED: {A.RENEW: S.EXPIRED},
    S.REJECTED: {},
    S.WITHDRAWN: {},
    S.APPLIED: {},
}

TERMINAL = frozenset(s for s, moves in TRANSITIONS.items() if not set(moves) - {A.RENEW})


class IllegalTransition(Exception):
    """The table has no such step; the message says what the allocation is and allows."""


def after(
    state: AllocationState | str,
    action: Action | str,
    *,
    kind: AllocationKind | str = AllocationKind.NEW,
    last_approval: bool = True,
) -> AllocationState:
    """The state ``action`` leads to from ``state``, or IllegalTransition."""
    state, action, kind = AllocationState(state), Action(action), AllocationKind(kind)
    target = TRANSITIONS[state].get(action)
    if target is None:
        raise IllegalTransition(_refusal(state, action))
    if action is A.APPROVE:
        if not last_approval:
            return state
        if kind is AllocationKind.CHANGE:
            return S.APPLIED
    return target


def edges() -> frozenset[tuple[AllocationState, AllocationState]]:
    """Every (from, to) pair any action can produce: what a history may contain."""
    out = {(s, t) for s, moves in TRANSITIONS.items() for t in moves.values()}
    out |= {(S.REQUESTED, S.REQUESTED), (S.REQUESTED, S.APPLIED)}
    return frozenset(out)


def _refusal(state: AllocationState, action: Action) -> str:
    if state in TERMINAL:
        return f"the allocation is {state}; it cannot be changed any more"
    allowed = ", ".join(sorted(a for a in TRANSITIONS[state] if a is not A.COMMENT)) or "nothing"
    return f"cannot {action} an allocation that is {state} (it allows: {allowed})"
