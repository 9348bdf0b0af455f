"""Notebook sessions' pure rules: activity, idleness, progress lines, dataset names."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from aidc.core.job_states import JobState
from aidc.core.notebooks import (
    DATASET_RE,
    is_idle,
    last_activity,
    parse_time,
    progress,
    stop_reason,
)

T0 = 1_796_000_000.0


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_parse_time_reads_jupyters_format() -> None:
    assert parse_time("2026-12-01T15:34:36.953177Z") == 1796139276.953177
    assert parse_time(iso(T0)) == T0
    assert parse_time(None) is None
    assert parse_time("yesterday") is None


times = st.floats(min_value=0, max_value=10_000, allow_nan=False)


@given(
    since=times,
    kernel_ages=st.lists(times, max_size=4),
    terminal_ages=st.lists(times, max_size=3),
    busy=st.booleans(),
)
def test_activity_is_the_latest_kernel_or_terminal_never_before_ready(
    since: float, kernel_ages: list[float], terminal_ages: list[float], busy: bool
) -> None:
    now = T0 + 20_000
    kernels = [{"execution_state": "idle", "last_activity": iso(T0 + a)} for a in kernel_ages]
    if busy:
        kernels.append({"execution_state": "busy", "last_activity": iso(T0)})
    terminals = [{"last_activity": iso(T0 + a)} for a in terminal_ages]
    got = last_activity(kernels, terminals, since=T0 + since, now=now)
    if busy:
        assert got == now
        return
    expected = max([T0 + since] + [T0 + a for a in kernel_ages + terminal_ages])
    assert abs(got - expected) < 1e-5
    assert T0 + since <= got + 1e-6 <= now + 1e-6


def test_idle_only_past_the_limit_and_never_with_limit_zero() -> None:
    assert not is_idle(T0, T0 + 59, 60)
    assert is_idle(T0, T0 + 60, 60)
    assert not is_idle(T0, T0 + 10**9, 0)


def test_progress_says_where_a_starting_session_stands() -> None:
    assert progress(JobState.QUEUED, position=3, wait_message="quota") == (
        "queued: position 3 in the queue (quota)"
    )
    assert progress(JobState.STARTING, node="n1") == "launching on n1"
    assert progress(JobState.RUNNING, node="n1") == "JupyterLab is starting on n1"
    assert progress(JobState.RUNNING, node="n1", address_known=True) == (
        "waiting for JupyterLab to answer on n1"
    )


def test_stop_reason_names_the_lifetime() -> None:
    why = stop_reason(JobState.FAILED, "timeout: exceeded the time limit of 60s", 60)
    assert why == "reached its maximum lifetime (60s)"
    assert stop_reason(JobState.CANCELLED, "cancelled by minji", 60) == "cancelled by minji"


def test_dataset_names() -> None:
    for ok in ("imagenet", "imagenet@2024:/data", "coco@v2", "x:/mnt/x"):
        assert DATASET_RE.match(ok), ok
    for bad in ("", "@v1", "a b", "x:relative", "../etc"):
        assert not DATASET_RE.match(bad), bad
