"""`aidc report usage|utilisation|burndown`: usage for funders, the center's utilisation and
an allocation's burn-down, as a table (default), CSV or JSON."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.output import errors, fail, out
from aidc.client import Client
from aidc.schemas_reports import UsageMeasures, UsageReport

app = typer.Typer(help="Reports: usage by group, center utilisation, allocation burn-down.")

FORMATS = ("table", "csv", "json")
MonthOpt = Annotated[str | None, typer.Option("--month", help="A UTC month: YYYY-MM.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Day after the last (exclusive).")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")]
NONE = "(none)"  # how a row without a program reads in a table


def _format(value: str, allowed: tuple[str, ...] = FORMATS) -> str:
    if value not in allowed:
        fail(f"--format: {value!r} is not one of {', '.join(allowed)}")
    return value


@app.command()
def usage(
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            help="Group by (repeat): org, project, program, org-kind, sector, region, "
            "accelerator-type, day, month.",
        ),
    ] = None,
    month: MonthOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    format_: FormatOpt = "table",
) -> None:
    """Usage you may see: `aidc report usage --by org-kind --month 2026-11 --format csv`."""
    fmt = _format(format_)
    with errors(), Client.from_config() as c:
        if fmt == "csv":
            sys.stdout.write(c.usage_report_csv(by or [], month=month, from_=from_, to=to))
            return
        report = c.usage_report(by or [], month=month, from_=from_, to=to)
    if fmt == "json":
        out.print_json(report.model_dump_json())
        return
    _usage_table(report)


def _usage_table(r: UsageReport) -> None:
    table = Table(box=None, header_style="bold", title=f"usage, {r.period.label}")
    for key in r.by:
        table.add_column(key.upper())
    for col in ("ACCEL-HOURS", "PF-HOURS", "CPU-HOURS", "MEM GB-HOURS", "CREDITS", "JOBS"):
        table.add_column(col, justify="right")

    def numbers(m: UsageMeasures) -> list[str]:
        return [
            f"{m.accelerator_hours:,.2f}",
            f"{m.pf_hours:,.3f}",
            f"{m.cpu_hours:,.1f}",
            f"{m.memory_gb_hours:,.1f}",
            f"{m.credits:,.2f}",
            str(m.jobs),
        ]

    for row in r.rows:
        cells = [escape(row.keys[k]) or (NONE if k == "program" else "") for k in r.by]
        table.add_row(*cells, *numbers(row))
    first = ["[bold]total[/]"] + [""] * (len(r.by) - 1) if r.by else []
    table.add_row(*first, *[f"[bold]{x}[/]" for x in numbers(r.totals)])
    out.print(table)


@app.command()
def utilisation(
    month: MonthOpt = None, from_: FromOpt = None, to: ToOpt = None, format_: FormatOpt = "table"
) -> None:
    """Capacity, allocated and used hours per accelerator type (center admins, reviewers)."""
    fmt = _format(format_, ("table", "json"))
    with errors(), Client.from_config() as c:
        r = c.utilisation_report(month=month, from_=from_, to=to)
    if fmt == "json":
        out.print_json(r.model_dump_json())
        return
    table = Table(box=None, header_style="bold", title=f"utilisation, {r.period.label}")
    table.add_column("TYPE")
    for col in ("CAPACITY H", "CAPACITY PF-H", "ALLOCATED H", "USED H", "USED PF-H", "UTIL", "PF"):
        table.add_column(col, justify="right")
    for row in [*r.rows, r.total]:
        table.add_row(
            row.accelerator_type,
            f"{row.capacity_device_hours:,.1f}",
            f"{row.capacity_pf_hours:,.2f}",
            f"{row.allocated_hours:,.1f}",
            f"{row.used_hours:,.1f}",
            f"{row.used_pf_hours:,.2f}",
            _pct(row.utilisation),
            _pct(row.pf_delivered),
        )
    out.print(table)
    out.print(f"PF-hours granted on any accelerator: {r.allocated_pf_hours:,.2f}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


@app.command()
def burndown(
    project: Annotated[str | None, typer.Option("--project", "-p", help="A project.")] = None,
    allocation: Annotated[
        int | None, typer.Option("--allocation", help="An allocation id.")
    ] = None,
    format_: FormatOpt = "table",
) -> None:
    """Granted, used and remaining hours of allocations, with projected exhaustion."""
    fmt = _format(format_, ("table", "json"))
    if (project is None) == (allocation is None):
        fail("give --project or --allocation (one of them)")
    with errors(), Client.from_config() as c:
        found = c.burndown(allocation=allocation, project=project)
    if fmt == "json":
        out.print_json(json.dumps([b.model_dump(mode="json") for b in found]))
        return
    if not found:
        out.print("no allocations")
    for b in found:
        out.print(
            f"[bold]allocation {b.allocation_id}[/] {escape(b.project)} in {escape(b.program)} "
            f"({b.state}, {(b.starts_at or '')[:10]} to {(b.ends_at or '')[:10]})"
        )
        table = Table(box=None, header_style="bold")
        for col in ("RESOURCE", "GRANTED", "USED", "REMAINING", "PER DAY (7D)", "RUNS OUT"):
            table.add_column(col, justify="right" if col != "RESOURCE" else "left")
        for res in b.resources:
            table.add_row(
                res.resource,
                f"{res.granted_hours:,.2f}",
                f"{res.used_hours:,.2f}",
                f"{res.remaining_hours:,.2f}",
                f"{res.rate_per_day:,.2f}",
                "now" if res.exhausted else (res.projected_exhaustion or "-"),
            )
        out.print(table)
