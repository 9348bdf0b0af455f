"""Use and queue length over time: step functions, resampling, and conservation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.policy import Policy, preset
from aidc.sim import SimJob, simulate
from aidc.sim.driver import SimResult
from aidc.sim.timeline import (
    allocation,
    capacity,
    integral,
    queue_length,
    resample,
    series,
    span,
    step,
    waits,
)
from tests.unit.scheduler.build import gpu_node, quotas
from tests.unit.sim.test_driver import job


def test_step_merges_equal_times_and_drops_flat_breakpoints() -> None:
    assert step([(0, 2), (5, -2), (5, 1), (3, 0), (9, -1)]) == [(0, 2), (5, 1), (9, 0)]
    assert step([]) == []
    assert step([(1, 1), (1, -1)]) == []


def test_integral_and_resample_by_hand() -> None:
    s = [(0.0, 2.0), (5.0, 1.0), (9.0, 0.0)]
    assert integral(s, 0, 10) == 2 * 5 + 1 * 4
    assert integral(s, 4, 6) == 2 + 1
    # Two bins of 5 s: [0,5) at 2; [5,10) at 1 for 4 s of 5.
    assert resample(s, 0, 10, 2) == [2.0, 0.8]
    assert resample(s, 0, 10, 1) == [1.4]
    assert resample(s, 3, 3, 4) == []
    with pytest.raises(ValueError, match="points"):
        resample(s, 0, 10, 0)


def test_utilisation_and_queue_of_fifo_on_one_gpu() -> None:
    r = simulate(
        (gpu_node("n1", 1),), [job("a", 0, 10), job("b", 1, 5), job("c", 2, 1)], preset("fifo")
    )
    assert allocation(r.runs) == {"a100": [(0, 1), (16, 0)]}
    # b waits 1..10, c waits 2..15.
    assert sorted(waits(r)) == [("b", 1, 10), ("c", 2, 15)]
    assert queue_length(r) == [(1, 1), (2, 2), (10, 1), (15, 0)]
    data = series(r, {"a100": 1}, points=4)
    assert data["t_s"] == [0, 4, 8, 12] and data["bin_s"] == 4
    assert data["utilisation"] == {"a100": [1.0, 1.0, 1.0, 1.0]}
    # Bins [0,4): 1 for 1 s + 2 for 2 s = 5/4; [4,8): 2; [8,12): 2,2,1,1; [12,16): 1,1,1,0.
    assert data["queue_length"] == [1.25, 2.0, 1.5, 0.75]


def test_a_preempted_job_waits_again_from_its_exit_to_its_restart() -> None:
    q = quotas({"a": {"a100": (1, None, None)}, "b": {"a100": (1, None, None)}})
    trace = [
        job("b1", 0, 100, project="b"),
        job("b2", 0, 100, project="b"),
        job("a1", 10, 30, project="a"),
    ]
    r = simulate((gpu_node("n1", 2),), trace, Policy(), quotas=q)
    grace = Policy().of_class("normal").grace_s
    victim = next(j for j in r.jobs if j.preemptions).job_id
    assert (victim, 10 + grace, 40 + grace) in waits(r)
    assert ("a1", 10, 10 + grace) in waits(r)
    assert r.lost_accelerator_s > 0
    _check_series_conserve(r, {"a100": 2}, r.useful_accelerator_s + r.lost_accelerator_s)


def test_capacity_counts_devices_per_type() -> None:
    nodes = (gpu_node("n1", 8), gpu_node("n2", 4, kind="h100"), gpu_node("cpu", 0))
    assert capacity(nodes) == {"a100": 8, "h100": 4}


jobs_strategy = st.lists(
    st.tuples(
        st.integers(0, 200),  # submit
        st.integers(1, 300),  # duration
        st.sampled_from([1, 2, 4]),  # gpus
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["normal", "opportunistic"]),
    ),
    min_size=1,
    max_size=14,
)


def _trace(rows: list[tuple[int, int, int, str, str]]) -> list[SimJob]:
    return [
        job(f"j{i}", at, d, gpus=g, project=p, cls=c) for i, (at, d, g, p, c) in enumerate(rows)
    ]


def _check_series_conserve(r: SimResult, cap: dict[str, int], ran: float) -> None:
    sp = span(r)
    held = allocation(r.runs)
    assert math.isclose(sum(integral(s, sp.start, sp.end) for s in held.values()), ran)
    for t, s in held.items():
        assert all(0 <= v <= cap[t] for _, v in s)  # never over-allocated
    data = series(r, cap, points=37)
    assert math.isclose(
        sum(sum(u) * cap[t] * data["bin_s"] for t, u in data["utilisation"].items()),  # type: ignore[union-attr,arg-type,operator]
        ran,
        rel_tol=1e-9,
    )
    q = queue_length(r)
    assert all(v >= 0 for _, v in q) and (not q or q[-1][1] == 0)
    waited = sum(hi - lo for _, lo, hi in waits(r))
    assert math.isclose(integral(q, sp.start, sp.end), waited, abs_tol=1e-6)
    assert waited >= sum(j.queued_s for j in r.jobs) - 1e-6


@settings(max_examples=40, deadline=None)
@given(jobs_strategy)
def test_without_preemption_the_area_is_every_jobs_duration_times_gpus(rows: list) -> None:
    trace = _trace(rows)
    cap = {"a100": 8}
    r = simulate((gpu_node("n1", 4), gpu_node("n2", 4)), trace, preset("fifo"))
    assert r.lost_accelerator_s == 0 and len(r.jobs) == len(trace)
    _check_series_conserve(r, cap, sum(j.duration_s * j.request.accelerators for j in trace))
    # Every job waits exactly its queueing delay.
    assert math.isclose(sum(hi - lo for _, lo, hi in waits(r)), sum(j.queued_s for j in r.jobs))


@settings(max_examples=40, deadline=None)
@given(jobs_strategy)
def test_with_preemption_the_area_is_useful_plus_lost(rows: list) -> None:
    q = quotas({"a": {"a100": (2, None, None)}, "b": {"a100": (2, None, None)}})
    r = simulate((gpu_node("n1", 4), gpu_node("n2", 4)), _trace(rows), Policy(), quotas=q)
    _check_series_conserve(r, {"a100": 8}, r.useful_accelerator_s + r.lost_accelerator_s)
