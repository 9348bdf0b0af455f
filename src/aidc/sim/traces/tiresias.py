"""Tiresias (NSDI'19): ``job_id,num_gpu,submit_time,iterations,model_name,duration,interval``.

Times in seconds. The trace has no tenant: every job is project ``tiresias``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aidc.sim.driver import SimJob
from aidc.sim.limits import LimitModel
from aidc.sim.traces.common import LoadReport, NodeShape, count, limit_drawer, number, rows


def tiresias(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    for where, row in rows(path, ("job_id", "num_gpu", "submit_time", "duration")):
        gpus, at, duration = (
            count(where, row, "num_gpu"),
            number(where, row, "submit_time"),
            number(where, row, "duration"),
        )
        report.loaded += 1
        yield SimJob(
            f"tiresias-{row['job_id']}",
            at,
            duration,
            shape.request(gpus),
            "tiresias",
            time_limit_s=drawer.limit_for(duration),
        )
