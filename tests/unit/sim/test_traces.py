"""Trace loaders, the time-limit model and the run's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidc.core.policy import preset
from aidc.core.resources import Node
from aidc.sim import simulate
from aidc.sim.limits import BUCKETS_S, LimitModel
from aidc.sim.metrics import summary
from aidc.sim.traces import NodeShape, TraceError, philly_csv, tiresias
from tests.unit.scheduler.build import gpu_node
from tests.unit.sim.test_driver import job

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "traces"
TIRESIAS = SHARED / "tiresias" / "60_job.csv"
FOUR = NodeShape(accelerators=4, accelerator_type="a100")


def tiresias_cluster() -> tuple[Node, ...]:
    """cluster_spec.csv: 1 switch x 16 nodes x 4 GPUs."""
    return tuple(gpu_node(f"n{i:02d}", 4) for i in range(16))


def test_limits_are_never_below_the_duration_and_come_in_buckets() -> None:
    drawer = LimitModel(seed=7).limits()
    limits = [drawer.limit_for(d) for d in (60, 600, 3000, 7200, 90_000) * 40]
    assert all(lim >= d for lim, d in zip(limits, (60, 600, 3000, 7200, 90_000) * 40, strict=True))
    assert all(lim in BUCKETS_S or lim > BUCKETS_S[-1] for lim in limits)
    # Drawn per job, not one constant factor: one duration gets several limits.
    assert len(set(limits[2::5])) > 1
    again = LimitModel(seed=7).limits()
    assert [again.limit_for(d) for d in (60, 600, 3000, 7200, 90_000) * 40] == limits
    assert LimitModel(oracle=True).limits().limit_for(1234.5) == 1234.5


def test_the_shared_tiresias_trace_loads_and_runs_to_the_end() -> None:
    if not TIRESIAS.exists():
        pytest.skip(f"{TIRESIAS} is not here (shared/ lies beside the project in CI)")
    jobs = list(tiresias(TIRESIAS, FOUR, LimitModel(oracle=True)))
    assert len(jobs) == 60
    first, second = jobs[0], jobs[1]
    assert (first.job_id, first.submitted_at, first.duration_s) == ("tiresias-0", 0, 164)
    assert (first.request.nodes, first.request.accelerators) == (1, 1)
    # 8 GPUs on 4-GPU nodes: a gang of 2 whole nodes.
    assert (second.request.nodes, second.request.accelerators) == (2, 4)
    capacity = {"a100": 64}
    runs = {name: simulate(tiresias_cluster(), jobs, preset(name)) for name in ("fifo", "sjf")}
    for r in runs.values():
        assert len(r.jobs) == 60 and r.unfinished == [] and r.skipped == []
        assert r.useful_accelerator_s == sum(
            j.duration_s * j.request.nodes * j.request.accelerators for j in jobs
        )
    fifo = summary(runs["fifo"], capacity)
    assert fifo == summary(simulate(tiresias_cluster(), jobs, preset("fifo")), capacity)
    assert 0 < fifo["utilisation"] <= 1
    # 64 GPUs never make these jobs wait; on 8 of them, shortest-first (by the true
    # durations, as with --oracle) finishes them sooner on average than submission order.
    small = tiresias_cluster()[:2]
    fifo_8, sjf_8 = (
        summary(simulate(small, jobs, preset(n)), {"a100": 8}) for n in ("fifo", "sjf")
    )
    assert fifo["queued_s"]["avg"] == 0 < fifo_8["queued_s"]["avg"]
    assert sjf_8["completion_s"]["avg"] < fifo_8["completion_s"]["avg"]


def test_philly_csv_maps_virtual_clusters_to_projects(tmp_path: Path) -> None:
    trace = tmp_path / "philly.csv"
    trace.write_text(
        "timestamp,duration,num_gpus,gpu_time,cluster\n"
        "2017-10-03 10:00:05,600,1,600,6214e9\n"
        "2017-10-03 09:59:00,3600,16,57600,b436b2\n"  # unsorted, as the public file is
    )
    a, b = philly_csv(trace, NodeShape(), LimitModel(seed=1))
    assert (a.project, a.duration_s, a.request.nodes, a.request.accelerators) == (
        "6214e9",
        600,
        1,
        1,
    )
    assert (b.project, b.request.nodes, b.request.accelerators) == ("b436b2", 2, 8)
    assert a.submitted_at - b.submitted_at == 65
    assert a.time_limit_s is not None and a.time_limit_s >= 600


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("2017-10-03 10:00:05,soon,1,600,vc", "duration 'soon' is not a number"),
        ("2017-10-03 10:00:05,60,0,0,vc", "num_gpus '0' is not a count"),
        ("yesterday,60,1,60,vc", "timestamp 'yesterday'"),
    ],
)
def test_a_bad_row_is_refused_naming_the_line_and_column(
    tmp_path: Path, row: str, says: str
) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text(f"timestamp,duration,num_gpus,gpu_time,cluster\n{row}\n")
    with pytest.raises(TraceError, match=f"bad.csv:2: {says}"):
        list(philly_csv(trace, NodeShape()))


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    trace = tmp_path / "short.csv"
    trace.write_text("job_id,num_gpu,submit_time\n0,1,0\n")
    with pytest.raises(TraceError, match="no column duration"):
        list(tiresias(trace, FOUR))


def test_a_job_larger_than_the_cluster_is_reported_not_dropped() -> None:
    r = simulate(
        (gpu_node("n1", 2),), [job("fits", 0, 5), job("huge", 0, 5, gpus=4)], preset("fifo")
    )
    assert [j.job_id for j in r.jobs] == ["fits"]
    assert r.skipped == [
        ("huge", "accelerators: asks for 4 per node but the largest suitable node has 2")
    ]


def test_the_summary_of_a_hand_worked_run() -> None:
    r = simulate(
        (gpu_node("n1", 1),), [job("a", 0, 10), job("b", 1, 5), job("c", 2, 1)], preset("fifo")
    )
    s = summary(r, {"a100": 1})
    assert s["completion_s"] == {"avg": 12.667, "p50": 14.0, "p95": 14.0, "p99": 14.0}
    assert s["queued_s"] == {"avg": 7.333, "p50": 9.0, "p95": 13.0, "p99": 13.0}
    # a: 10/10; b: 14/10 and c: 14/10 (runs under 10 s count as 10 s)
    assert s["bounded_slowdown"]["avg"] == round((1 + 1.4 + 1.4) / 3, 3)
    assert (s["makespan_s"], s["utilisation"], s["jobs_completed"]) == (16, 1.0, 3)
    assert s["projects"]["p"]["jobs"] == 3
