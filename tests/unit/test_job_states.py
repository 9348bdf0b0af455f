"""The job state machine: which changes it accepts, and that finished jobs stay finished."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.job_states import (
    ALLOWED,
    TERMINAL,
    IllegalTransition,
    JobState,
    Transition,
    transition,
)

S = JobState


def test_every_state_has_a_rule() -> None:
    assert set(ALLOWED) == set(JobState)
    assert {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.LOST} == TERMINAL


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobState, JobState)))
def test_pair_accepted_iff_allowed(current: JobState, target: JobState) -> None:
    if target in ALLOWED[current]:
        t = transition(current, target, at=12.5, reason="why")
        assert t == Transition(current, target, 12.5, "why")
    else:
        with pytest.raises(IllegalTransition) as info:
            transition(current, target, at=0.0, reason="")
        assert (info.value.current, info.value.target) == (current, target)


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_states_accept_nothing(state: JobState) -> None:
    assert state.is_terminal
    assert not state.holds_resources
    for target in JobState:
        with pytest.raises(IllegalTransition, match="already finished"):
            transition(state, target, at=0.0, reason="")


def test_non_terminal_message_lists_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition) as info:
        transition(S.QUEUED, S.RUNNING, at=0.0, reason="")
    msg = str(info.value)
    assert "QUEUED -> RUNNING" in msg
    assert "ADMITTED, CANCELLED" in msg
    assert "finished" not in msg


def test_happy_path_and_preemption() -> None:
    path = [S.QUEUED, S.ADMITTED, S.STARTING, S.RUNNING, S.PREEMPTED, S.QUEUED]
    path += [S.ADMITTED, S.STARTING, S.RUNNING, S.SUCCEEDED]
    for a, b in itertools.pairwise(path):
        assert transition(a, b, at=0.0, reason="").target is b


@pytest.mark.parametrize("state", [S.QUEUED, S.ADMITTED, S.STARTING, S.RUNNING, S.PREEMPTED])
def test_every_live_job_can_be_cancelled(state: JobState) -> None:
    assert transition(state, S.CANCELLED, at=0.0, reason="user").target is S.CANCELLED


def test_only_placed_states_hold_resources() -> None:
    assert {s for s in JobState if s.holds_resources} == {S.ADMITTED, S.STARTING, S.RUNNING}


def test_every_state_is_reachable_from_queued() -> None:
    seen, todo = {S.QUEUED}, [S.QUEUED]
    while todo:
        for nxt in ALLOWED[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(JobState)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(JobState)), max_size=40))
def test_random_walks_respect_the_machine(targets: list[JobState]) -> None:
    state = S.QUEUED
    finished_as: JobState | None = None
    for target in targets:
        try:
            t = transition(state, target, at=0.0, reason="")
        except IllegalTransition:
            assert target not in ALLOWED[state]
            continue
        assert finished_as is None, "a finished job changed"
        assert t.source is state
        assert t.target in ALLOWED[state]
        state = t.target
        if state.is_terminal:
            finished_as = state
    if finished_as is not None:
        assert state is finished_as
