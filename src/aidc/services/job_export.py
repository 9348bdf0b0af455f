"""The job history as rows, so that a center can replay its own workload in the simulator.

One row per job the caller may see (operators: every project; others: their projects, and
their organisation's if they are its admin: the same rule as listing jobs), oldest first,
read a page at a time so a long history is never held at once. Every job is written, the
unfinished and never-started ones too, with their state: the history is complete, and the
simulator's ``aidc-history`` loader says which rows it could not replay and why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any, TextIO, cast

from sqlalchemy import Select, select

from aidc.core.history_format import COLUMNS, TERMINAL_STATES
from aidc.core.tenancy import Principal
from aidc.services.center import Center
from aidc.services.jobs import visible
from aidc.store.models import JobRow, Project

PAGE = 1000


def history_rows(
    center: Center, p: Principal, *, project: str | None = None
) -> Iterator[dict[str, str]]:
    """Rows of ``COLUMNS`` (text, as CSV holds them); times in seconds since the epoch."""
    after = 0
    while True:
        # A short read per page: no transaction stays open while the caller writes.
        with center.db.read() as s:
            both = cast("Select[Any]", select(JobRow, Project.name))
            q = visible(both.join(Project, Project.id == JobRow.project_id), p)
            if project is not None:
                q = q.where(Project.name == project)
            page = s.execute(q.where(JobRow.seq > after).order_by(JobRow.seq).limit(PAGE)).all()
            for job, name in page:
                yield _row(job, name)
        if len(page) < PAGE:
            return
        after = page[-1][0].seq


def _row(job: JobRow, project: str) -> dict[str, str]:
    def num(x: float | None) -> str:
        return "" if x is None else repr(float(x))

    return {
        "job_id": job.id,
        "project": project,
        "submitted_at": num(job.submitted_at),
        "started_at": num(job.started_at),
        "ended_at": num(job.finished_at),
        "nodes": str(job.nodes),
        "accelerators_per_node": str(job.accelerators),
        # Stored comma-separated; "|" keeps the CSV cell plain.
        "accelerator_types": "|".join(t for t in (job.accelerator_type or "").split(",") if t),
        "cpus": str(job.cpus),
        "memory_mib": str(job.memory_mib),
        "priority_class": job.priority_class,
        "time_limit_s": num(job.time_limit_s),
        "state": job.state,
    }


def csv_chunks(rows: Iterable[dict[str, str]], per_chunk: int = PAGE) -> Iterator[str]:
    """``rows`` as CSV text with a header, ``per_chunk`` rows at a time (for a stream)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i, row in enumerate(rows, 1):
        writer.writerow(row)
        if i % per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_csv(rows: Iterable[dict[str, str]], out: TextIO) -> tuple[int, int]:
    """Write ``rows`` with a header; ``(written, replayable)``: finished with a start."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    written = replayable = 0
    for row in rows:
        writer.writerow(row)
        written += 1
        replayable += row["state"] in TERMINAL_STATES and bool(row["started_at"])
    return written, replayable
