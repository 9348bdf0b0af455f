"""Microsoft Philly (ATC'19), in its two public forms.

- ``philly-csv``: the flattened ``timestamp,duration,num_gpus,gpu_time,cluster``, with
  ``timestamp`` the submit time as ``YYYY-MM-DD HH:MM:SS`` (unsorted) and ``cluster`` the
  virtual cluster: the project.
- ``philly-json``: ``cluster_job_log``, a JSON list of jobs ``{status, vc, jobid, user,
  submitted_time, attempts: [{start_time, end_time, detail: [{ip, gpus: [...]}]}]}``.
  The virtual cluster is the project. Duration is the first attempt's start to the last
  attempt's end: what the job held the cluster for, retries and the gaps between them
  included (the public Philly analysis measures run time from the attempts the same way).
  GPUs are the largest attempt's (its machines' ``gpus`` lists summed): the request must fit
  the biggest run. Skipped, with the reason counted: jobs with no attempt, or whose first
  start or last end is missing (null, "None": never started or still running), or whose
  attempts name no GPU. Times are read as UTC; only differences matter.

The JSON file is read as a stream (``jsonstream``): one job object in memory at a time.
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
from aidc.sim.traces.jsonstream import json_list


def philly_csv(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    for where, row in rows(path, ("timestamp", "duration", "num_gpus", "cluster")):
        if blank(row["timestamp"]) or ":" not in row["timestamp"]:
            raise TraceError(f"{where}: timestamp {row['timestamp']!r} is not YYYY-MM-DD HH:MM:SS")
        when = timestamp(where, "timestamp", row["timestamp"])
        duration = number(where, row, "duration")
        gpus = count(where, row, "num_gpus")
        report.loaded += 1
        yield SimJob(
            f"philly-{where.rsplit(':', 1)[1]}",
            when,
            duration,
            shape.request(gpus),
            row["cluster"],
            time_limit_s=drawer.limit_for(duration),
        )


def philly_json(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    for index, where, job in json_list(path):
        at = f"{path}: job {index} ({where})"
        if not isinstance(job, dict):
            raise TraceError(f"{at}: is a {type(job).__name__}, expected an object {{...}}")
        for key in ("vc", "jobid", "submitted_time", "attempts"):
            if key not in job:
                raise TraceError(f"{at}: no field {key!r}")
        name = f"philly-{job['jobid']}"
        attempts = job["attempts"]
        if not isinstance(attempts, list):
            raise TraceError(f"{at}: attempts must be a list, not {type(attempts).__name__}")
        if not attempts:
            report.skip(name, "no attempts: never started")
            continue
        first, last = attempts[0], attempts[-1]
        if not isinstance(first, dict) or not isinstance(last, dict):
            raise TraceError(f"{at}: attempts must be objects {{start_time, end_time, detail}}")
        if blank(first.get("start_time")) or blank(last.get("end_time")):
            report.skip(name, "first start or last end missing: never started or not finished")
            continue
        submitted = _time(at, "submitted_time", job["submitted_time"])
        start = _time(at, "attempts[0].start_time", first["start_time"])
        end = _time(at, f"attempts[{len(attempts) - 1}].end_time", last["end_time"])
        if end < start:
            raise TraceError(f"{at}: the last attempt ends before the first starts")
        gpus = max(_gpus(at, i, a) for i, a in enumerate(attempts))
        if not gpus:
            report.skip(name, "no GPUs in any attempt's detail")
            continue
        report.loaded += 1
        yield SimJob(
            name,
            submitted,
            end - start,
            shape.request(gpus),
            str(job["vc"]),
            time_limit_s=drawer.limit_for(end - start),
        )


def _time(at: str, field: str, raw: object) -> float:
    if not isinstance(raw, str) or blank(raw):
        raise TraceError(f"{at}: {field} {raw!r} is not a time YYYY-MM-DD HH:MM:SS")
    return timestamp(at, field, raw)


def _gpus(at: str, i: int, attempt: object) -> int:
    if not isinstance(attempt, dict):
        raise TraceError(f"{at}: attempts[{i}] is not an object")
    detail = attempt.get("detail") or []
    if not isinstance(detail, list):
        raise TraceError(f"{at}: attempts[{i}].detail must be a list of {{ip, gpus}}")
    total = 0
    for m, machine in enumerate(detail):
        gpus = machine.get("gpus") if isinstance(machine, dict) else None
        if not isinstance(gpus, list):
            raise TraceError(f"{at}: attempts[{i}].detail[{m}].gpus must be a list")
        total += len(gpus)
    return total
