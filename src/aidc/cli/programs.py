"""`aidc program create|list|show`: funded programs and their budgets."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.alloc_common import JsonOpt, amounts, day, parse_amounts, parse_date, print_json
from aidc.cli.output import errors, out
from aidc.client import Client
from aidc.schemas_allocations import ProgramView

program_app = typer.Typer(help="Programs: funded capacity organisations apply to.")


@program_app.command("create")
def create(
    name: str,
    start: Annotated[str, typer.Option(help="First day, e.g. 2027-01-01.")],
    end: Annotated[str, typer.Option(help="The day it ends, e.g. 2027-12-31.")],
    budget: Annotated[
        list[str], typer.Option(help="RESOURCE=HOURS (accelerator type or pf); repeat.")
    ],
    eligible: Annotated[
        list[str] | None, typer.Option(help="An organisation kind that may apply; repeat.")
    ] = None,
    max_hours: Annotated[
        list[str] | None, typer.Option(help="RESOURCE=HOURS one allocation may ask; repeat.")
    ] = None,
    approvals: Annotated[int, typer.Option(help="Distinct reviewers each request needs.")] = 1,
    on_exhausted: Annotated[str, typer.Option(help="hold, opportunistic or notify.")] = "hold",
    storage_gb: Annotated[float, typer.Option(help="Storage budget, GB.")] = 0.0,
    kind: Annotated[str, typer.Option(help="allocation or education.")] = "allocation",
    description: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a program (center admins)."""
    body = {
        "kind": kind,
        "description": description,
        "starts_at": parse_date(start, "--start"),
        "ends_at": parse_date(end, "--end"),
        "eligible_kinds": eligible or [],
        "budget_hours": parse_amounts(budget, "--budget"),
        "storage_budget_gb": storage_gb,
        "rules": {
            "required_approvals": approvals,
            "max_hours": parse_amounts(max_hours, "--max-hours"),
            "on_exhausted": on_exhausted,
        },
    }
    with errors(), Client.from_config() as c:
        p = c.create_program(name, **body)
    if as_json:
        print_json(p)
        return
    out.print(f"created program {escape(p.name)}")
    _print(p)


@program_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Programs with their budgets, what they granted and what is left."""
    with errors(), Client.from_config() as c:
        found = c.programs()
    if as_json:
        print_json(found)
        return
    table = Table(box=None, header_style="bold")
    for col in ("PROGRAM", "KIND", "PERIOD", "FOR", "BUDGET (H)", "GRANTED (H)", "LEFT (H)"):
        table.add_column(col)
    for p in found:
        table.add_row(
            escape(p.name),
            p.kind,
            f"{day(p.starts_at)} .. {day(p.ends_at)}",
            ", ".join(p.eligible_kinds) or "all",
            amounts(p.budget_hours),
            amounts(p.granted_hours),
            amounts(p.remaining_hours),
        )
    out.print(table)


@program_app.command("show")
def show(name: str, as_json: JsonOpt = False) -> None:
    """One program in full."""
    with errors(), Client.from_config() as c:
        p = c.program(name)
    if as_json:
        print_json(p)
        return
    _print(p)


def _print(p: ProgramView) -> None:
    out.print(f"[bold]{escape(p.name)}[/] ({p.kind}) {day(p.starts_at)} .. {day(p.ends_at)}")
    if p.description:
        out.print(escape(p.description))
    out.print(f"for {', '.join(p.eligible_kinds) or 'every kind of organisation'}")
    out.print(f"budget {amounts(p.budget_hours)} hours; storage {p.storage_budget_gb:g} GB")
    out.print(f"granted {amounts(p.granted_hours)}; storage {p.granted_storage_gb:g} GB")
    out.print(f"left {amounts(p.remaining_hours)}")
    out.print(
        f"rules: {p.required_approvals} approval(s), at most {amounts(p.max_hours)} per "
        f"allocation, when credits run out: {p.on_exhausted}"
    )
