"""Trace loaders: each reads a public trace format as a stream of ``SimJob``s.

A loader reads its file row by row and yields jobs as it goes (a trace is never held
twice), mapping the trace's tenant to a project. Sizes become requests on the cluster's node
shape: a job asking more accelerators than one node has becomes a gang of whole nodes. What
the scheduler is told about run time comes from a ``LimitModel``.

Formats (``../shared/traces/README.md``):

- ``tiresias``: ``job_id,num_gpu,submit_time,iterations,model_name,duration,interval``
  (seconds); no tenant: every job is project ``tiresias``.
- ``philly-csv``: ``timestamp,duration,num_gpus,gpu_time,cluster`` with ``timestamp`` as
  ``YYYY-MM-DD HH:MM:SS`` (UTC, unsorted) and ``cluster`` the virtual cluster: the project.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aidc.core.resources import Request
from aidc.sim.driver import SimJob
from aidc.sim.limits import LimitModel


@dataclass(frozen=True, slots=True)
class NodeShape:
    """What one node of the simulated cluster has, to turn trace sizes into requests."""

    accelerators: int = 8
    accelerator_type: str = "a100"
    cpus_per_accelerator: int = 4
    memory_mib_per_accelerator: int = 32 * 1024

    def request(self, accelerators: int) -> Request:
        per, nodes = accelerators, 1
        if accelerators > self.accelerators:
            nodes = -(-accelerators // self.accelerators)
            per = self.accelerators
        return Request(
            nodes,
            max(1, per * self.cpus_per_accelerator),
            max(1024, per * self.memory_mib_per_accelerator),
            per,
            (self.accelerator_type,),
        )


class TraceError(ValueError):
    """A row the loader cannot read: the file, the line and what is wrong."""


def tiresias(path: Path, shape: NodeShape, limits: LimitModel | None = None) -> Iterator[SimJob]:
    drawer = (limits or LimitModel()).limits()
    for line, row in _rows(path, ("job_id", "num_gpu", "submit_time", "duration")):
        gpus, at, duration = (
            _int(path, line, row, "num_gpu"),
            _float(path, line, row, "submit_time"),
            _float(path, line, row, "duration"),
        )
        yield SimJob(
            f"tiresias-{row['job_id']}",
            at,
            duration,
            shape.request(gpus),
            "tiresias",
            time_limit_s=drawer.limit_for(duration),
        )


def philly_csv(path: Path, shape: NodeShape, limits: LimitModel | None = None) -> Iterator[SimJob]:
    drawer = (limits or LimitModel()).limits()
    for line, row in _rows(path, ("timestamp", "duration", "num_gpus", "cluster")):
        try:
            when = dt.datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise TraceError(
                f"{path}:{line}: timestamp {row['timestamp']!r} is not YYYY-MM-DD HH:MM:SS"
            ) from None
        duration = _float(path, line, row, "duration")
        yield SimJob(
            f"philly-{line}",
            when.replace(tzinfo=dt.UTC).timestamp(),
            duration,
            shape.request(_int(path, line, row, "num_gpus")),
            row["cluster"],
            time_limit_s=drawer.limit_for(duration),
        )


def _rows(path: Path, needed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in needed if c not in (reader.fieldnames or ())]
        if missing:
            raise TraceError(f"{path}: no column {', '.join(missing)} (has {reader.fieldnames})")
        for row in reader:
            yield reader.line_num, row


def _float(path: Path, line: int, row: dict[str, str], column: str) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        raise TraceError(f"{path}:{line}: {column} {row[column]!r} is not a number") from None
    if value < 0:
        raise TraceError(f"{path}:{line}: {column} is negative ({value:g})")
    return value


def _int(path: Path, line: int, row: dict[str, str], column: str) -> int:
    value = _float(path, line, row, column)
    if value != int(value) or value < 1:
        raise TraceError(f"{path}:{line}: {column} {row[column]!r} is not a count of 1 or more")
    return int(value)
