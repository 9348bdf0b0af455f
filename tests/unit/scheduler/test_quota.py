"""Quota in a cohort tree: borrow, reclaim, lending and borrowing limits, interactive."""

from __future__ import annotations

from tests.unit.scheduler.build import admitted, gpu_node, pending, quotas, run, running, why

NODE = [gpu_node("n1", 4)]
TWO_BY_TWO = quotas({"a": {"a100": (2, None, None)}, "b": {"a100": (2, None, None)}})


def test_a_project_borrows_idle_quota_of_its_cohort() -> None:
    p = run(NODE, [pending(f"b{i}", project="b", seq=i) for i in range(4)], q=TWO_BY_TWO)
    assert admitted(p) == ["b0", "b1", "b2", "b3"]
    assert [d.borrowing for d in p.admit] == [False, False, True, True]


def test_reclaim_preempts_the_borrower_that_ran_least() -> None:
    active = [
        running("b0", "n1", (0,), "b", started=10),
        running("b1", "n1", (1,), "b", started=20),
        running("b2", "n1", (2,), "b", started=30),
        running("b3", "n1", (3,), "b", started=40),
    ]
    p = run(NODE, [pending("a0", project="a")], active, TWO_BY_TWO)
    assert admitted(p) == []
    assert [(x.job_id, x.for_job) for x in p.preempt] == [("b3", "a0")]
    assert "borrowed quota" in p.preempt[0].reason and p.preempt[0].grace_s == 60
    assert why(p, "a0").startswith("preempting: stopping 1 job(s) (b3)")
    # Once the victim is gone, the next pass admits the job on the freed device.
    after = run(NODE, [pending("a0", project="a")], active[:3], TWO_BY_TWO)
    assert admitted(after) == ["a0"]
    assert after.admit[0].placement.nodes[0].devices == (3,)


def test_reclaim_waits_for_victims_already_stopping_instead_of_preempting_more() -> None:
    active = [running(f"b{i}", "n1", (i,), "b", started=i) for i in range(3)]
    active.append(running("b3", "n1", (3,), "b", started=3, stopping=True))
    p = run(NODE, [pending("a0", project="a")], active, TWO_BY_TWO)
    assert p.preempt == ()
    assert why(p, "a0") == "preempting: waiting for preempted job(s) b3 to exit"


def test_no_reclaim_for_a_job_that_would_itself_borrow() -> None:
    active = [running(f"b{i}", "n1", (i,), "b") for i in range(2)]
    active += [running(f"a{i}", "n1", (i + 2,), "a") for i in range(2)]
    p = run(NODE, [pending("a9", project="a")], active, TWO_BY_TWO)
    assert p.preempt == () and admitted(p) == []
    assert "quota" in why(p, "a9") or "capacity" in why(p, "a9")


def test_lending_limit_keeps_quota_back() -> None:
    q = quotas({"a": {"a100": (2, None, 0)}, "b": {"a100": (2, None, None)}})
    p = run(NODE, [pending(f"b{i}", project="b", seq=i) for i in range(4)], q=q)
    assert admitted(p) == ["b0", "b1"]
    assert why(p, "b2") == "quota: project b: a100 quota 2/2 used, asks 1; cohort org can lend 0"


def test_borrowing_limit_caps_what_a_project_takes() -> None:
    q = quotas({"a": {"a100": (2, None, None)}, "b": {"a100": (2, 1, None)}})
    p = run(NODE, [pending(f"b{i}", project="b", seq=i) for i in range(4)], q=q)
    assert admitted(p) == ["b0", "b1", "b2"]
    assert "borrowing limit" in why(p, "b3")


def test_interactive_jobs_stay_within_nominal_quota() -> None:
    jobs = [pending(f"b{i}", project="b", cls="interactive", seq=i) for i in range(3)]
    p = run(NODE, jobs, q=TWO_BY_TWO)
    assert admitted(p) == ["b0", "b1"]
    assert "within nominal quota only" in why(p, "b2")


def test_two_level_tree_borrows_across_organisations_in_a_program() -> None:
    q = quotas(
        {"a": {"a100": (2, None, None)}, "c": {"a100": (2, None, None)}},
        parents={"a": "org1", "c": "org2"},
        cohorts={"program": None, "org1": "program", "org2": "program"},
    )
    p = run(NODE, [pending(f"c{i}", project="c", seq=i) for i in range(4)], q=q)
    assert len(admitted(p)) == 4
    # An organisation that lends nothing keeps its quota inside.
    closed = quotas(
        {"a": {"a100": (2, None, None)}, "c": {"a100": (2, None, None)}},
        parents={"a": "org1", "c": "org2"},
        cohorts={"program": None, "org1": "program", "org2": "program"},
        cohort_limits={"org1": {"a100": (0, None, 0)}},
    )
    p = run(NODE, [pending(f"c{i}", project="c", seq=i) for i in range(4)], q=closed)
    assert len(admitted(p)) == 2


def test_capacity_beyond_all_nominal_quota_is_borrowable_by_anyone() -> None:
    q = quotas({"a": {"a100": (1, None, None)}})
    p = run(NODE, [pending(f"x{i}", project="x", seq=i) for i in range(4)], q=q)
    # Project x has no quota: it borrows the 3 unallocated a100s and a's idle one.
    assert len(admitted(p)) == 4


def test_simultaneous_admissions_in_one_pass_never_over_borrow() -> None:
    q = quotas({"a": {"a100": (8, None, None)}, "b": {"a100": (8, 2, None)}})
    nodes = [gpu_node("n1"), gpu_node("n2")]
    jobs = [pending(f"b{i}", project="b", seq=i) for i in range(16)]
    p = run(nodes, jobs, q=q)
    assert len(admitted(p)) == 10  # 8 nominal + borrowing limit 2


def test_opportunistic_runs_beyond_quota_and_is_preempted_first() -> None:
    q = quotas({"a": {"a100": (4, None, None)}})
    jobs = [pending(f"o{i}", project="b", cls="opportunistic", seq=i) for i in range(4)]
    p = run(NODE, jobs, q=q)
    assert len(admitted(p)) == 4  # idle capacity, whatever the quota says
    active = [
        running("o0", "n1", (0,), "b", cls="opportunistic", started=5),
        running("o1", "n1", (1,), "b", cls="opportunistic", started=9),
        running("a0", "n1", (2,), "a", started=1),
        running("a1", "n1", (3,), "a", started=1),
    ]
    p = run(NODE, [pending("a2", project="a")], active, q)
    assert [x.job_id for x in p.preempt] == ["o1"]
    assert "opportunistic" in p.preempt[0].reason


def test_unmanaged_resources_are_first_come_first_served() -> None:
    p = run(NODE, [pending(f"x{i}", project=f"p{i}") for i in range(5)])
    assert len(admitted(p)) == 4
    assert why(p, "x4").startswith("capacity: needs 1 a100")
