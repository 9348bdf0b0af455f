"""Ordering: multifactor priority with fair share, classes, nice; sjf and fifo presets."""

from __future__ import annotations

from aidc.core.policy import Policy, preset
from aidc.scheduler.ordering import fair_share_factors
from tests.unit.scheduler.build import admitted, gpu_node, pending, quotas, run

ONE = [gpu_node("n1", 1)]


def test_fair_share_factor_follows_slurm_classic() -> None:
    f = fair_share_factors({"a": 0.0, "b": 100.0}, {"a": 1, "b": 1}, {"a", "b"})
    assert f == {"a": 1.0, "b": 0.25}  # b used all with half the shares: 2^-(1/0.5)
    assert fair_share_factors({}, {}, {"a"}) == {"a": 1.0}
    weighted = fair_share_factors({"a": 50, "b": 50}, {"a": 3, "b": 1}, {"a", "b"})
    assert weighted["a"] > weighted["b"]


def test_the_project_that_used_less_goes_first() -> None:
    queue = [pending("heavy", project="b", at=0, seq=1), pending("light", project="a", at=5, seq=2)]
    p = run(ONE, queue, usage={"b": 1e6, "a": 10})
    assert admitted(p) == ["light"]
    w = p.waiting[0]
    assert (w.job_id, w.position, w.project_position) == ("heavy", 1, 1)


def test_shares_weigh_usage() -> None:
    q = quotas({"a": {}, "b": {}}, shares={"a": 4, "b": 1})
    queue = [pending("b1", project="b", seq=1), pending("a1", project="a", seq=2)]
    p = run(ONE, queue, q=q, usage={"a": 100, "b": 60})
    assert admitted(p) == ["a1"]  # a used more, but has 4x the shares


def test_nice_lowers_priority() -> None:
    queue = [pending("nice", seq=1, nice=5000), pending("plain", seq=2)]
    assert admitted(run(ONE, queue)) == ["plain"]


def test_interactive_class_outranks_normal() -> None:
    queue = [pending("batch", seq=1), pending("notebook", cls="interactive", seq=2, at=1)]
    assert admitted(run(ONE, queue)) == ["notebook"]


def test_sjf_orders_by_time_limit_and_fifo_by_submission() -> None:
    queue = [pending("long", seq=1, limit=7200), pending("short", seq=2, at=1, limit=60)]
    assert admitted(run(ONE, queue, policy=preset("sjf"))) == ["short"]
    assert admitted(run(ONE, queue, policy=preset("fifo"))) == ["long"]


def test_in_quota_work_is_considered_before_borrowing_work() -> None:
    q = quotas({"a": {"a100": (1, None, None)}, "b": {"a100": (0, None, None)}})
    queue = [
        pending("b1", project="b", seq=1, cls="interactive"),
        pending("a1", project="a", seq=2),
    ]
    # b1 ranks higher by class but would not be in quota (and interactive may not borrow).
    assert admitted(run(ONE, queue, q=q)) == ["a1"]


def test_same_input_same_plan() -> None:
    nodes = [gpu_node(f"n{i}", 8, rack=f"r{i % 2}") for i in range(4)]
    queue = [pending(f"j{i}", 1 + i % 8, project=f"p{i % 3}", seq=i, at=i) for i in range(40)]
    q = quotas({"p0": {"a100": (8, None, None)}, "p1": {"a100": (8, 4, None)}})
    assert run(nodes, queue, q=q, policy=Policy()) == run(nodes, queue, q=q, policy=Policy())
