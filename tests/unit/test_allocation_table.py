"""The allocation transition table: what moves where, and what is refused."""

from __future__ import annotations

import pytest

from aidc.core.allocations import (
    TERMINAL,
    TRANSITIONS,
    Action,
    AllocationState,
    IllegalTransition,
    after,
    edges,
)

S = AllocationState


def test_the_happy_path_and_its_turns() -> None:
    assert after(S.REQUESTED, Action.ASK_CHANGES) is S.CHANGES_REQUESTED
    assert after(S.CHANGES_REQUESTED, Action.RESUBMIT) is S.REQUESTED
    assert after(S.REQUESTED, Action.APPROVE, last_approval=False) is S.REQUESTED
    assert after(S.REQUESTED, Action.APPROVE) is S.APPROVED
    assert after(S.REQUESTED, Action.APPROVE, kind="change") is S.APPLIED
    assert after(S.APPROVED, Action.ACTIVATE) is S.ACTIVE
    assert after(S.ACTIVE, Action.EXPIRE) is S.EXPIRED
    assert after(S.EXPIRED, Action.RENEW) is S.EXPIRED


@pytest.mark.parametrize("state", sorted(TERMINAL))
@pytest.mark.parametrize("action", [a for a in Action if a not in (Action.RENEW,)])
def test_nothing_leaves_an_ended_allocation(state: AllocationState, action: Action) -> None:
    with pytest.raises(IllegalTransition, match="cannot be changed any more"):
        after(state, action)


def test_refusals_say_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition, match="cannot approve an allocation that is active"):
        after(S.ACTIVE, Action.APPROVE)
    with pytest.raises(IllegalTransition, match="resubmit"):
        after(S.CHANGES_REQUESTED, Action.APPROVE)


def test_terminal_states_and_edges() -> None:
    assert {S.REJECTED, S.WITHDRAWN, S.EXPIRED, S.APPLIED} == TERMINAL
    assert set(TRANSITIONS) == set(S)
    assert (S.REQUESTED, S.APPLIED) in edges() and (S.ACTIVE, S.REQUESTED) not in edges()
