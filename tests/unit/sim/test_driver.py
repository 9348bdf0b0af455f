"""The simulation driver on tiny traces worked out by hand."""

from __future__ import annotations

from aidc.core.policy import Policy, preset
from aidc.core.resources import Request
from aidc.sim import SimJob, SimResult, simulate
from aidc.sim.metrics import utilisation
from tests.unit.scheduler.build import GIB, gpu_node, quotas


def job(
    job_id: str,
    at: float,
    duration: float,
    gpus: int = 1,
    project: str = "p",
    limit: float | None = None,
    cls: str = "normal",
) -> SimJob:
    return SimJob(job_id, at, duration, Request(1, 1, GIB, gpus, ("a100",)), project, cls, limit)


def by_id(result: SimResult) -> dict[str, tuple[float, float]]:
    """Each completed job's last run: (start, end)."""
    return {j.job_id: (j.started_at, j.ended_at) for j in result.jobs}


def test_fifo_on_one_gpu_gives_every_completion_time_exactly() -> None:
    trace = [job("a", 0, 10), job("b", 1, 5), job("c", 2, 1)]
    r = simulate((gpu_node("n1", 1),), trace, preset("fifo"))
    assert by_id(r) == {"a": (0, 10), "b": (10, 15), "c": (15, 16)}
    assert [j.completion_s for j in sorted(r.jobs, key=lambda j: j.job_id)] == [10, 14, 14]
    assert r.makespan_s == 16 and r.unfinished == []
    # Conservation: what ran is each job's duration x its GPUs.
    assert r.useful_accelerator_s == 16 and r.lost_accelerator_s == 0
    assert utilisation(r, {"a100": 1}) == 1.0


def test_backfill_starts_a_short_job_early_without_delaying_the_reservation() -> None:
    trace = [
        job("long", 0, 100, limit=100),
        job("wide", 1, 10, gpus=2, limit=10),  # waits for both GPUs: reserved for t=100
        job("short", 2, 50, limit=60),  # ends by 62 < 100: backfills now
        job("late", 3, 200, limit=300),  # would run past 100: waits
    ]
    r = simulate((gpu_node("n1", 2),), trace, Policy())
    assert by_id(r) == {
        "long": (0, 100),
        "short": (2, 52),
        "wide": (100, 110),
        "late": (110, 310),
    }


def test_borrowed_gpus_are_reclaimed_and_the_lost_work_is_counted() -> None:
    """Project b borrows a's idle nominal GPU; a's job takes it back by preemption. The
    borrower restarts after the grace and finishes later; run = useful + lost."""
    q = quotas({"a": {"a100": (1, None, None)}, "b": {"a100": (1, None, None)}})
    trace = [
        job("b1", 0, 100, project="b"),
        job("b2", 0, 100, project="b"),
        job("a1", 10, 30, project="a"),
    ]
    r = simulate((gpu_node("n1", 2),), trace, Policy(), quotas=q)
    runs = by_id(r)
    grace = Policy().of_class("normal").grace_s
    assert runs["a1"] == (10 + grace, 40 + grace)
    preempted = next(j for j in r.jobs if j.preemptions)
    assert preempted.project == "b" and preempted.lost_accelerator_s == 10 + grace
    assert runs[preempted.job_id] == (40 + grace, 140 + grace)
    assert r.lost_accelerator_s == 10 + grace
    assert r.useful_accelerator_s == 100 + 100 + 30  # every job's duration x GPUs, once
    # Every run is recorded, the preempted one too: (job, start, end, completed).
    assert sorted((x.job_id, x.started_at, x.ended_at, x.completed) for x in r.runs) == sorted(
        [
            ("a1", 10 + grace, 40 + grace, True),
            (preempted.job_id, 0, 10 + grace, False),
            (preempted.job_id, 40 + grace, 140 + grace, True),
            (
                next(j.job_id for j in r.jobs if j.project == "b" and not j.preemptions),
                0,
                100,
                True,
            ),
        ]
    )
    assert sum(x.accelerators * (x.ended_at - x.started_at) for x in r.runs) == (
        r.useful_accelerator_s + r.lost_accelerator_s
    )


def test_a_job_that_outruns_its_time_limit_is_stopped_there() -> None:
    r = simulate((gpu_node("n1", 1),), [job("a", 0, 500, limit=60)], Policy())
    (a,) = r.jobs
    assert (a.ended_at, a.timed_out) == (60, True)


def test_the_same_trace_gives_the_same_result() -> None:
    trace = [job(f"j{i}", i % 7, 5 + i % 11, 1 + i % 2, f"p{i % 3}") for i in range(60)]
    nodes = (gpu_node("n1", 2), gpu_node("n2", 2, rack="r2"))
    first = simulate(nodes, trace, Policy())
    assert simulate(nodes, trace, Policy()) == first
    assert first.unfinished == [] and len(first.jobs) == 60
    assert first.useful_accelerator_s == sum(j.duration_s * j.request.accelerators for j in trace)


def test_fair_share_reads_the_usage_of_runs_ended_and_running() -> None:
    """One GPU; heavy has run 100 s when both projects' next jobs wait: fairshare starts
    light's first although heavy's was submitted first; fifo does the opposite."""
    trace = [
        job("heavy1", 0, 100, project="heavy"),
        job("heavy2", 1, 10, project="heavy"),
        job("light1", 1, 10, project="light"),
    ]
    fair = by_id(simulate((gpu_node("n1", 1),), trace, preset("fairshare")))
    assert fair["light1"] == (100, 110) and fair["heavy2"] == (110, 120)
    fifo = by_id(simulate((gpu_node("n1", 1),), trace, preset("fifo")))
    assert fifo["heavy2"] == (100, 110) and fifo["light1"] == (110, 120)


def test_runs_still_going_at_the_stop_are_recorded_up_to_it() -> None:
    trace = [job("a", 0, 100), job("b", 0, 30), job("c", 50, 100)]
    r = simulate((gpu_node("n1", 2),), trace, Policy(), until=60)
    assert r.unfinished == ["a", "c"]
    cut = sorted((x.job_id, x.started_at, x.ended_at) for x in r.runs if x.cut)
    assert cut == [("a", 0, 60), ("c", 50, 60)]
    assert not any(x.completed for x in r.runs if x.cut)
    # Use up to the stop: a for 60 s, b's completed 30 s, c for 10 s.
    assert sum(x.accelerators * (x.ended_at - x.started_at) for x in r.runs) == 100
