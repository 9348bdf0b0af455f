"""Per-tenant share against entitlement, and Jain's index, on cases worked out by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from aidc.core.policy import Policy, preset
from aidc.scheduler import Quotas
from aidc.sim import simulate
from aidc.sim.fairness import entitle, jain, jain_of, nominal_accelerators, tenants
from aidc.sim.metrics import evaluate
from tests.unit.scheduler.build import gpu_node, quotas
from tests.unit.sim.test_driver import job
from tests.unit.sim.test_timeline import _trace, jobs_strategy


def test_entitlement_guarantees_nominal_then_water_fills_the_rest() -> None:
    # No quotas, equal weights: a asks 2, b asks 1 of 2 -> b is filled at 1, a gets the rest.
    assert entitle({"a": 2, "b": 1}, {}, {}, 2) == {"a": 1, "b": 1}
    # a holds 1 nominal; the other 1 is split evenly over what both still ask.
    assert entitle({"a": 2, "b": 2}, {"a": 1}, {}, 2) == {"a": 1.5, "b": 0.5}
    # Weights 3:1 over a remainder of 4 (nothing nominal).
    assert entitle({"a": 10, "b": 10}, {}, {"a": 3}, 4) == {"a": 3, "b": 1}
    # Never more than it asks, even with a large nominal quota; idle quota goes to others.
    assert entitle({"a": 1, "b": 8}, {"a": 6}, {}, 8) == {"a": 1, "b": 7}
    # Nominal quotas beyond the cluster are scaled down together.
    assert entitle({"a": 8, "b": 8}, {"a": 6, "b": 6}, {}, 6) == {"a": 3, "b": 3}
    assert entitle({}, {"a": 1}, {}, 4) == {}


def test_jain_index() -> None:
    assert jain([1, 1, 1]) == 1
    assert jain([1, 0, 0, 0]) == 0.25
    assert jain([]) is None and jain([0, 0]) == 1
    assert math.isclose(jain([2, 0.5]), 6.25 / 8.5)


def test_shares_of_a_fifo_run_worked_out_by_hand() -> None:
    """2 GPUs, fifo. a's 2-GPU job runs 0..10, b's 1-GPU job (submitted at 0) waits and runs
    10..20. Entitled: 0..10 both ask, b is filled at 1 and a gets 1; 10..20 b alone asks 1.
    a: received 20 GPU-s over 10 s of demand = 1.0 of the cluster, entitled 0.5, ratio 2.
    b: received 10 over 20 s = 0.25, entitled 20/(2 x 20) = 0.5, ratio 0.5."""
    trace = [job("a1", 0, 10, gpus=2, project="a"), job("b1", 0, 10, gpus=1, project="b")]
    r = simulate((gpu_node("n1", 2),), trace, preset("fifo"))
    a, b = tenants(r.jobs, r.runs, Quotas(), 2)
    assert (a.project, a.demand_s, a.received_accelerator_s, a.entitled_accelerator_s) == (
        "a",
        10,
        20,
        10,
    )
    assert (a.received_share, a.entitled_share, a.share_ratio) == (1.0, 0.5, 2.0)
    assert (b.demand_s, b.received_accelerator_s, b.entitled_accelerator_s) == (20, 10, 20)
    assert (b.received_share, b.entitled_share, b.share_ratio) == (0.25, 0.5, 0.5)
    assert (b.completion_s_avg, b.queued_s_avg) == (20, 10)
    assert math.isclose(jain_of([a, b]) or 0, 6.25 / 8.5)


def test_reclaim_counts_the_victims_lost_time_against_its_project() -> None:
    q = quotas({"a": {"a100": (1, None, None)}, "b": {"a100": (1, None, None)}})
    assert nominal_accelerators(q) == {"a": 1, "b": 1}
    trace = [
        job("b1", 0, 100, project="b"),
        job("b2", 0, 100, project="b"),
        job("a1", 10, 30, project="a"),
    ]
    r = simulate((gpu_node("n1", 2),), trace, Policy(), quotas=q)
    grace = Policy().of_class("normal").grace_s
    a, b = tenants(r.jobs, r.runs, q, 2)
    assert b.preemptions == 1 and b.lost_accelerator_s == 10 + grace
    assert a.preemptions == 0 and a.lost_accelerator_s == 0
    # a asked 1 GPU from 10 to its end; it is entitled to its nominal 1 all that time.
    assert a.demand_s == 30 + grace and a.entitled_accelerator_s == 30 + grace
    assert a.received_accelerator_s == 30 and a.share_ratio == pytest.approx(30 / (30 + grace))
    data = evaluate(r, {"a100": 2}, q, points=10)
    rows = {t["project"]: t for t in data["tenants"]}
    assert rows["b"]["lost_accelerator_s"] == 10 + grace and rows["a"]["nominal_accelerators"] == 1
    assert data["summary"]["preemptions"] == 1


@settings(max_examples=30, deadline=None)
@given(jobs_strategy)
def test_received_adds_up_and_entitlement_never_exceeds_the_cluster(rows: list) -> None:
    q = quotas({"a": {"a100": (2, None, None)}, "b": {"a100": (2, None, None)}})
    r = simulate((gpu_node("n1", 4), gpu_node("n2", 4)), _trace(rows), Policy(), quotas=q)
    found = tenants(r.jobs, r.runs, q, 8)
    ran = r.useful_accelerator_s + r.lost_accelerator_s
    assert math.isclose(sum(t.received_accelerator_s for t in found), ran)
    assert math.isclose(sum(t.lost_accelerator_s for t in found), r.lost_accelerator_s)
    span = max(j.ended_at for j in r.jobs) - min(j.submitted_at for j in r.jobs)
    assert sum(t.entitled_accelerator_s for t in found) <= 8 * span + 1e-6
    for t in found:
        assert 0 <= t.received_share <= 1 + 1e-9 and 0 < t.entitled_share <= 1 + 1e-9
        # Entitled to no more than it asked: never above its demand-time x the cluster.
        assert t.entitled_accelerator_s <= 8 * t.demand_s + 1e-6
    index = jain_of(found)
    assert index is not None and 1 / len(found) - 1e-9 <= index <= 1 + 1e-9
