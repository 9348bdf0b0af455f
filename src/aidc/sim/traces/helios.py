"""SenseTime Helios (SC'21): ``job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,
start_time,end_time,duration,queue``.

The virtual cluster is the project. Times are ``YYYY-MM-DD HH:MM:SS`` (as in the public
``cluster_log.csv``) or seconds; ``duration`` is the run time in seconds (``end_time -
start_time`` when it is empty). A GPU job runs on ``node_num`` nodes with ``gpu_num`` split
evenly over them, rounded up per node when it does not divide (counted as adjusted); cpus
and memory follow the cluster's node shape, as in the other loaders. Skipped, counted by
reason: CPU jobs (``gpu_num`` 0; the presets are GPU clusters and the study is of GPU
scheduling), and jobs with no start or end (cancelled in the queue, or running at the end
of the trace).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aidc.sim.driver import SimJob
from aidc.sim.limits import LimitModel
from aidc.sim.traces.common import (
    LoadReport,
    NodeShape,
    TraceError,
    blank,
    count,
    limit_drawer,
    number,
    rows,
    timestamp,
)

COLUMNS = ("job_id", "vc", "gpu_num", "node_num", "submit_time", "start_time", "end_time")


def helios(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    for where, row in rows(path, COLUMNS):
        name = f"helios-{row['job_id']}"
        gpus = count(where, row, "gpu_num", least=0)
        if not gpus:
            report.skip(name, "CPU job (gpu_num 0)")
            continue
        if blank(row["start_time"]) or blank(row["end_time"]):
            report.skip(name, "no start_time or end_time: never started or not finished")
            continue
        submitted = timestamp(where, "submit_time", row["submit_time"])
        if blank(row.get("duration")):
            start = timestamp(where, "start_time", row["start_time"])
            duration = timestamp(where, "end_time", row["end_time"]) - start
            if duration < 0:
                raise TraceError(f"{where}: end_time is before start_time")
        else:
            duration = number(where, row, "duration")
        nodes = count(where, row, "node_num")
        per = -(-gpus // nodes)
        if per * nodes != gpus:
            report.adjust(name, "gpu_num not a multiple of node_num: rounded up per node")
        report.loaded += 1
        yield SimJob(
            name,
            submitted,
            duration,
            shape.gang(nodes, per),
            row["vc"],
            time_limit_s=drawer.limit_for(duration),
        )
