"""What a simulation run amounts to: completion times, waits, slowdown, use, per tenant."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from aidc.scheduler import Quotas
from aidc.sim.driver import JobOutcome, SimResult
from aidc.sim.fairness import jain_of, tenants
from aidc.sim.timeline import allocation, integral, queue_length, series, span

# Bounded slowdown counts runs shorter than this as this long (Feitelson's tau).
SLOWDOWN_FLOOR_S = 10.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: always a value that was observed (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def quantiles(values: Sequence[float], steps: int = 100) -> list[float]:
    """The nearest-rank percentiles 0, 100/steps, ..., 100 of ``values`` (empty for none)."""
    if not values:
        return []
    ordered = sorted(values)
    return [ordered[max(1, math.ceil(i / steps * len(ordered))) - 1] for i in range(steps + 1)]


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


# Floats in the plain data are rounded to this many decimals, so that the same run always
# serialises to the same bytes (and noise in the last bits never shows).
DECIMALS = 6


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: floats rounded to ``DECIMALS`` (non-finite ones None),
    tuples as lists, mapping keys as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        rounded = round(value, DECIMALS)
        return 0.0 if rounded == 0 else rounded  # never -0.0
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    raise TypeError(f"not plain data: {type(value).__name__}")


def dumps(data: Any) -> str:
    """Canonical JSON: keys sorted, floats rounded; the same data, the same bytes."""
    return json.dumps(plain(data), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def evaluate(
    result: SimResult,
    capacity: Mapping[str, int],
    quotas: Quotas | None = None,
    points: int = 500,
) -> dict[str, Any]:
    """Everything a report shows of one run, as plain data: the summary, utilisation per
    accelerator type, the per-tenant table with Jain's index, and the resampled series."""
    total = sum(capacity.values())
    rows = tenants(result.jobs, result.runs, quotas or Quotas(), total)
    sp = span(result)
    held = allocation(result.runs)
    queue = queue_length(result)
    data: dict[str, Any] = plain(
        {
            "summary": summary(result, capacity)
            | {
                "utilisation_by_type": {
                    t: (integral(held.get(t, []), sp.start, sp.end) / (c * sp.length))
                    if sp.length and c
                    else 0.0
                    for t, c in capacity.items()
                },
                "jain_index": jain_of(rows),
                "queue_length_max": max((v for _, v in queue), default=0),
            },
            # Completion time at every percent (0: the shortest, 100: the longest): the CDF.
            "completion_quantiles_s": quantiles([j.completion_s for j in result.jobs]),
            "tenants": [asdict(r) for r in rows],
            "series": series(result, capacity, points, held, queue),
        }
    )
    return data
