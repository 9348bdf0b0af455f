"""What a simulation run amounts to: completion times, waits, slowdown, use, per tenant."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from aidc.sim.driver import JobOutcome, SimResult

# Bounded slowdown counts runs shorter than this as this long (Feitelson's tau).
SLOWDOWN_FLOOR_S = 10.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: always a value that was observed (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "avg": round(sum(values) / len(values), 3) if values else 0.0,
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "p99": round(percentile(values, 99), 3),
    }


def bounded_slowdown(job: JobOutcome) -> float:
    run = job.ended_at - job.started_at
    return max(1.0, job.completion_s / max(run, SLOWDOWN_FLOOR_S))


def utilisation(result: SimResult, capacity: Mapping[str, int]) -> float:
    """Accelerator-seconds run (useful and lost) over what the cluster (``capacity``: type
    -> accelerators) offered during the makespan."""
    offered = sum(capacity.values()) * result.makespan_s
    ran = result.useful_accelerator_s + result.lost_accelerator_s
    return ran / offered if offered else 0.0


def summary(result: SimResult, capacity: Mapping[str, int]) -> dict[str, Any]:
    """The run in numbers, as plain data (the same run gives the same dict)."""
    jobs = sorted(result.jobs, key=lambda j: j.job_id)
    per_project: dict[str, list[JobOutcome]] = {}
    for j in jobs:
        per_project.setdefault(j.project, []).append(j)
    return {
        "jobs_completed": len(jobs),
        "jobs_unfinished": len(result.unfinished),
        "jobs_skipped": len(result.skipped),
        "completion_s": _spread([j.completion_s for j in jobs]),
        "queued_s": _spread([j.queued_s for j in jobs]),
        "bounded_slowdown": _spread([bounded_slowdown(j) for j in jobs]),
        "makespan_s": round(result.makespan_s, 3),
        "utilisation": round(utilisation(result, capacity), 6),
        "useful_accelerator_hours": round(result.useful_accelerator_s / 3600, 6),
        "lost_accelerator_hours": round(result.lost_accelerator_s / 3600, 6),
        "preemptions": sum(j.preemptions for j in jobs),
        "passes": result.passes,
        "projects": {
            p: {
                "jobs": len(js),
                "completion_s_avg": round(sum(j.completion_s for j in js) / len(js), 3),
                "accelerator_hours": round(
                    sum(j.accelerators * (j.ended_at - j.started_at) for j in js) / 3600, 6
                ),
            }
            for p, js in sorted(per_project.items())
        },
    }
