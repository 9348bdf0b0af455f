"""aidc's own job history (``aidc jobs export``), so that a center replays its workload.

Columns: ``aidc.core.history_format.COLUMNS``; times are seconds since the epoch, sizes as
the job asked them (per node, times ``nodes``), ``accelerator_types`` joined with ``|``
(empty: any). The project is the job's project. Here the limit the user typed is known and
is what the scheduler is told; only an oracle ``LimitModel`` replaces it (with the true run
time); a row with no limit gets one drawn from the model. The node shape is not used: the
request is the recorded one. Duration is ``ended_at - started_at`` of the job's last run.
Skipped, by reason: jobs that are not finished (queued, running) and jobs that ended
without running (cancelled in the queue, refused), which have no start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aidc.core.history_format import COLUMNS, TERMINAL_STATES
from aidc.core.resources import Request
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
)


def aidc_history(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    oracle = limits is not None and limits.oracle
    for where, row in rows(path, COLUMNS):
        name = row["job_id"]
        if row["state"] not in TERMINAL_STATES:
            report.skip(name, "not finished (still queued or running when exported)")
            continue
        if blank(row["started_at"]) or blank(row["ended_at"]):
            report.skip(name, "ended without running (no started_at)")
            continue
        start, end = number(where, row, "started_at"), number(where, row, "ended_at")
        if end < start:
            raise TraceError(f"{where}: ended_at is before started_at")
        accelerators = count(where, row, "accelerators_per_node", least=0)
        types = tuple(t for t in row["accelerator_types"].split("|") if t)
        request = Request(
            count(where, row, "nodes"),
            count(where, row, "cpus"),
            count(where, row, "memory_mib"),
            accelerators,
            types if accelerators else (),
        )
        if not row["project"]:
            raise TraceError(f"{where}: project is empty")
        if oracle or blank(row["time_limit_s"]):
            limit = drawer.limit_for(end - start)
        else:
            limit = number(where, row, "time_limit_s")
        report.loaded += 1
        yield SimJob(
            name,
            number(where, row, "submitted_at"),
            end - start,
            request,
            row["project"],
            row["priority_class"] or "normal",
            time_limit_s=limit,
        )
