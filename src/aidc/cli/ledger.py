"""`aidc credits`, `aidc notifications` and `aidc ledger`: what a project has used and has left."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from aidc.cli.output import errors, out, when
from aidc.client import Client

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="One project.")]


def credits(project: ProjectOpt = None, as_json: JsonOpt = False) -> None:
    """Credit balances: hours granted, used and left per project, allocation and resource."""
    with errors(), Client.from_config() as c:
        found = c.credits(project)
    if as_json:
        out.print_json(json.dumps([a.model_dump(mode="json") for a in found]))
        return
    if not found:
        out.print("no credit accounts (no allocation has been granted to your projects)")
        return
    table = Table(box=None, header_style="bold")
    for col in ("PROJECT", "ALLOCATION", "PROGRAM", "RESOURCE"):
        table.add_column(col)
    for col in ("GRANTED", "USED", "LEFT", "USED %"):
        table.add_column(col, justify="right")
    for col in ("ENDS", "WHEN USED UP"):
        table.add_column(col)
    for a in found:
        unit = "PF-h" if a.resource == "pf" else "h"
        table.add_row(
            a.project,
            str(a.allocation_id),
            a.program,
            a.resource,
            f"{a.granted_hours:,.1f} {unit}",
            f"{a.used_hours:,.1f} {unit}",
            f"{a.remaining_hours:,.1f} {unit}",
            f"{a.percent_used:.0f}%",
            when(a.ends_at) + ("" if a.active else " (inactive)"),
            a.on_exhausted,
        )
    out.print(table)


def notifications(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Notifications to your organisation: credit warnings at 80 % and 100 %."""
    with errors(), Client.from_config() as c:
        found = c.notifications(limit)
    if as_json:
        out.print_json(json.dumps([n.model_dump(mode="json") for n in found]))
        return
    if not found:
        out.print("no notifications")
        return
    table = Table(box=None, header_style="bold")
    for col in ("WHEN", "ORGANISATION", "PROJECT", "KIND", "MESSAGE"):
        table.add_column(col)
    for n in found:
        table.add_row(when(n.created_at), n.organisation, n.project or "", n.kind, n.message)
    out.print(table)


def ledger(
    job: Annotated[str | None, typer.Option("--job", "-j", help="One job's entries.")] = None,
    project: ProjectOpt = None,
    limit: Annotated[int, typer.Option(help="The latest this many entries.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Usage ledger entries: one per run, accelerator type and metered period."""
    with errors(), Client.from_config() as c:
        found = c.ledger(job=job, project=project, limit=limit)
    if as_json:
        out.print_json(json.dumps([e.model_dump(mode="json") for e in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("JOB", "RUN", "PROJECT", "TYPE", "FROM", "TO"):
        table.add_column(col)
    for col in ("DEVICES", "ACCEL-HOURS", "PF-HOURS", "CREDITS"):
        table.add_column(col, justify="right")
    for e in found:
        table.add_row(
            e.job_id,
            str(e.attempt) + (" (final)" if e.final else ""),
            e.project,
            e.accelerator_type,
            when(e.period_start),
            when(e.period_end),
            str(e.devices),
            f"{e.accelerator_seconds / 3600:,.4f}",
            f"{e.pf_hours:,.4f}",
            f"{e.credits:,.4f}",
        )
    out.print(table)
    total = sum(e.accelerator_seconds for e in found) / 3600
    out.print(f"{len(found)} entries, {total:,.4f} accelerator-hours")


def register(app: typer.Typer) -> None:
    app.command()(credits)
    app.command()(notifications)
    app.command()(ledger)
