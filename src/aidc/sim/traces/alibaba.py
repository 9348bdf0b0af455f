"""Alibaba PAI traces: the 2020 job and task tables, and the 2023 GPU pod list.

``alibaba-pai2020`` (``cluster-trace-gpu-v2020``, NSDI'22 "MLaaS in the wild"): two CSV files
without a header row (one with the header is accepted too):
``pai_job_table``: ``job_name,inst_id,user,status,start_time,end_time`` and ``pai_task_table``:
``job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type``.
``path`` is the job table (the task table is the file beside it with ``job_table`` in its
name read as ``task_table``) or a directory holding ``pai_job_table.csv`` and
``pai_task_table.csv``. The job table is indexed first, job_name -> (user, submit time) as a
small tuple with the user string shared (about 200 bytes a job: ~200 MB for the full 1.2 M
jobs); the task table is then streamed. Each task is one job of the simulation
(``pai-<job>-<task>``): ``inst_num`` instances of ``plan_gpu / 100`` GPUs each (a fraction
such as 50 is rounded up to one whole device: aidc gives whole devices; counted as
adjusted), all in one gang on the cluster's node shape, since aidc runs no multi-role jobs.
Submit time is the job's ``start_time`` (its submission in this trace), the duration the
task's ``end_time - start_time``; the user is the project. ``gpu_type`` P100, T4, V100
(16 GB), V100M32 becomes that accelerator type; MISC or empty, the shape's. Skipped, by
reason: CPU-only tasks (``plan_gpu`` empty or 0), tasks with no start or end, tasks whose job
the job table lacks.

``alibaba-gpu2023`` (``cluster-trace-gpu-v2023``, ATC'23 "Beware of Fragmentation"):
``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,
deletion_time,scheduled_time`` (seconds). A pod is a one-node job asking ``num_gpu`` GPUs,
``cpu_milli / 1000`` cpus rounded up and ``memory_mib``; a pod with no GPU is a CPU request.
``gpu_spec`` (``T4``, ``V100M16|V100M32``) lists the acceptable models, lower-cased to aidc
type names (empty: any). A fractional pod (``gpu_milli`` < 1000) holds one whole device:
aidc's scheduler does not share GPUs, so this replay overstates those pods' use (counted as
adjusted; a limitation, not a model of sharing). The trace has no tenant: its ``qos``
class (LS, BE, Burstable, Guaranteed) is the project. Submit is ``creation_time``, duration
``deletion_time - scheduled_time``; pods never scheduled (Pending, no ``scheduled_time``)
or never deleted are skipped. Pods still running at the end of the trace carry its end as
``deletion_time`` and run to it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

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

JOB_TABLE = ("job_name", "inst_id", "user", "status", "start_time", "end_time")
TASK_TABLE = (
    "job_name",
    "task_name",
    "inst_num",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
    "plan_gpu",
    "gpu_type",
)
PAI_TYPES = {"P100": "p100", "T4": "t4", "V100": "v100m16", "V100M32": "v100m32"}


def pai_tables(path: Path) -> tuple[Path, Path]:
    """The job and task tables ``path`` names (a directory, or the job table)."""
    if path.is_dir():
        jobs, tasks = path / "pai_job_table.csv", path / "pai_task_table.csv"
    else:
        jobs, tasks = path, path.with_name(path.name.replace("job_table", "task_table"))
        if tasks == jobs:
            raise TraceError(
                f"{path}: cannot find the task table: name the job table *job_table*.csv "
                "with the *task_table*.csv beside it, or pass their directory"
            )
    for p in (jobs, tasks):
        if not p.is_file():
            raise TraceError(f"{p}: no such file (alibaba-pai2020 needs both tables)")
    return jobs, tasks


def alibaba_pai2020(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    job_path, task_path = pai_tables(path)
    submitted: dict[str, tuple[str, float]] = {}
    for where, row in rows(job_path, JOB_TABLE, header=JOB_TABLE):
        submitted[row["job_name"]] = (
            sys.intern(row["user"]),
            number(where, row, "start_time"),
        )
    for where, row in rows(task_path, TASK_TABLE, header=TASK_TABLE):
        name = f"pai-{row['job_name']}-{row['task_name']}"
        job = submitted.get(row["job_name"])
        if job is None:
            report.skip(name, "its job_name is not in the job table")
            continue
        if blank(row["plan_gpu"]) or not number(where, row, "plan_gpu"):
            report.skip(name, "CPU-only task (plan_gpu empty or 0)")
            continue
        if any(blank(row[c]) or not number(where, row, c) for c in ("start_time", "end_time")):
            report.skip(name, "no start_time or end_time: never ran or not finished")
            continue
        start, end = number(where, row, "start_time"), number(where, row, "end_time")
        if end < start:
            raise TraceError(f"{where}: end_time is before start_time")
        percent = number(where, row, "plan_gpu")
        per_instance = -(-percent // 100)
        if per_instance * 100 != percent:
            report.adjust(name, "GPU fraction (plan_gpu not a multiple of 100) rounded up")
        gpus = count(where, row, "inst_num") * int(per_instance)
        kind = PAI_TYPES.get(row["gpu_type"].strip())
        report.loaded += 1
        yield SimJob(
            name,
            job[1],
            end - start,
            shape.request(gpus, (kind,) if kind else None),
            job[0],
            time_limit_s=drawer.limit_for(end - start),
        )


POD_COLUMNS = (
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)


def alibaba_gpu2023(
    path: Path,
    shape: NodeShape,
    limits: LimitModel | None = None,
    *,
    report: LoadReport | None = None,
) -> Iterator[SimJob]:
    # The pod says what it needs; the shape is not used (kept for the common signature).
    report = report if report is not None else LoadReport()
    drawer = limit_drawer(limits)
    for where, row in rows(path, POD_COLUMNS):
        name = row["name"]
        if blank(row["scheduled_time"]):
            report.skip(name, "never scheduled (no scheduled_time)")
            continue
        if blank(row["deletion_time"]):
            report.skip(name, "never deleted (no deletion_time)")
            continue
        start, end = number(where, row, "scheduled_time"), number(where, row, "deletion_time")
        if end < start:
            raise TraceError(f"{where}: deletion_time is before scheduled_time")
        gpus = count(where, row, "num_gpu", least=0)
        if gpus and number(where, row, "gpu_milli") < 1000:
            report.adjust(name, "GPU fraction (gpu_milli < 1000) holds one whole device")
        types = tuple(dict.fromkeys(t.strip().lower() for t in row["gpu_spec"].split("|")))
        request = Request(
            1,
            max(1, -(-count(where, row, "cpu_milli", least=0) // 1000)),
            max(1, count(where, row, "memory_mib", least=0)),
            gpus,
            tuple(t for t in types if t) if gpus else (),
        )
        if not row["qos"].strip():
            raise TraceError(f"{where}: qos is empty (it names the project)")
        report.loaded += 1
        yield SimJob(
            name,
            number(where, row, "creation_time"),
            end - start,
            request,
            row["qos"].strip(),
            time_limit_s=drawer.limit_for(end - start),
        )
