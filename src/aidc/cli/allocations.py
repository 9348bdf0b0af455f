"""`aidc alloc ...`: request capacity from a program, review, renew, change; and
``register``, which adds these and the organisation and program commands to `aidc`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.alloc_common import JsonOpt, amounts, day, parse_amounts, parse_date, print_json
from aidc.cli.organisations import join, org_app
from aidc.cli.output import errors, out, when
from aidc.cli.programs import program_app
from aidc.client import Client
from aidc.schemas_allocations import AllocationView

alloc_app = typer.Typer(help="Allocations: request, review, renew and change funded capacity.")

IdArg = Annotated[int, typer.Argument(help="The allocation's id.")]
HoursOpt = Annotated[
    list[str] | None, typer.Option("--hours", help="RESOURCE=HOURS (a100=2000, pf=10); repeat.")
]
QuotaOpt = Annotated[
    list[str] | None, typer.Option("--quota", help="TYPE=DEVICES at once (a100=2); repeat.")
]
StorageOpt = Annotated[float | None, typer.Option("--storage-gb", help="Storage, GB.")]
ReasonArg = Annotated[str, typer.Argument(help="Why (the organisation reads it).")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-m", help="A note for the history.")]


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
    app.add_typer(program_app, name="program")
    app.add_typer(alloc_app, name="alloc")
    app.command(name="join")(join)


@alloc_app.command("request")
def request(
    project: Annotated[str, typer.Option("--project", "-p", help="A project of yours.")],
    program: Annotated[str, typer.Option(help="The program to ask.")],
    justification: Annotated[str, typer.Option("--justification", "-j", help="What for.")],
    start: Annotated[str, typer.Option(help="First day, e.g. 2027-03-01.")],
    end: Annotated[str, typer.Option(help="The day it ends.")],
    hours: HoursOpt = None,
    quota: QuotaOpt = None,
    storage_gb: StorageOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask a program for capacity (org admins)."""
    body = {
        "project": project,
        "program": program,
        "justification": justification,
        "hours": parse_amounts(hours, "--hours"),
        "quota": parse_amounts(quota, "--quota"),
        "storage_gb": storage_gb or 0.0,
        "starts_at": parse_date(start, "--start"),
        "ends_at": parse_date(end, "--end"),
    }
    with errors(), Client.from_config() as c:
        a = c.request_allocation(**body)
    _done(a, as_json)


@alloc_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="requested, active, ...")] = None,
    program: Annotated[str | None, typer.Option()] = None,
    project: Annotated[str | None, typer.Option("--project", "-p")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Allocations you may see, newest first."""
    with errors(), Client.from_config() as c:
        found = c.allocations(state=state, program=program, project=project)
    if as_json:
        print_json(found)
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "KIND", "PROJECT", "PROGRAM", "STATE", "ASKED", "GRANTED", "PERIOD"):
        table.add_column(col)
    for a in found:
        table.add_row(
            str(a.id),
            a.kind + (f" of {a.parent_id}" if a.parent_id else ""),
            a.project,
            escape(a.program),
            _state(a),
            amounts(a.requested_hours),
            amounts(a.granted_hours),
            f"{day(a.starts_at)} .. {day(a.ends_at)}",
        )
    out.print(table)


@alloc_app.command("show")
def show(allocation_id: IdArg, as_json: JsonOpt = False) -> None:
    """One allocation in full."""
    with errors(), Client.from_config() as c:
        a = c.allocation(allocation_id)
    if as_json:
        print_json(a)
        return
    _print(a)


@alloc_app.command("history")
def history(allocation_id: IdArg, as_json: JsonOpt = False) -> None:
    """Every step of the allocation: who, when, what, why."""
    with errors(), Client.from_config() as c:
        found = c.allocation_history(allocation_id)
    if as_json:
        print_json(found)
        return
    table = Table(box=None, header_style="bold")
    for col in ("TIME", "BY", "ACTION", "FROM", "TO", "REASON"):
        table.add_column(col)
    for e in found:
        table.add_row(
            when(e.at), e.actor, e.action, e.from_state or "", e.to_state, escape(e.reason)
        )
    out.print(table)


@alloc_app.command("comment")
def comment(allocation_id: IdArg, text: Annotated[str, typer.Argument()]) -> None:
    """Add a note to the review (reviewers, center admins, the organisation's admins)."""
    _act(allocation_id, "comment", False, reason=text)


@alloc_app.command("ask-changes")
def ask_changes(allocation_id: IdArg, reason: ReasonArg, as_json: JsonOpt = False) -> None:
    """Send the request back to the organisation to amend (reviewers)."""
    _act(allocation_id, "ask-changes", as_json, reason=reason)


@alloc_app.command("resubmit")
def resubmit(
    allocation_id: IdArg,
    reason: ReasonOpt = "",
    justification: Annotated[str | None, typer.Option("--justification", "-j")] = None,
    hours: HoursOpt = None,
    quota: QuotaOpt = None,
    storage_gb: StorageOpt = None,
    start: Annotated[str | None, typer.Option()] = None,
    end: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Amend a request reviewers sent back and put it up for review again."""
    _act(
        allocation_id,
        "resubmit",
        as_json,
        reason=reason,
        justification=justification,
        hours=parse_amounts(hours, "--hours") if hours else None,
        quota=parse_amounts(quota, "--quota") if quota else None,
        storage_gb=storage_gb,
        starts_at=parse_date(start, "--start") if start else None,
        ends_at=parse_date(end, "--end") if end else None,
    )


@alloc_app.command("approve")
def approve(
    allocation_id: IdArg,
    hours: HoursOpt = None,
    quota: QuotaOpt = None,
    storage_gb: StorageOpt = None,
    reason: ReasonOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve, possibly less than asked (--hours/--quota/--storage-gb); reviewers."""
    _act(
        allocation_id,
        "approve",
        as_json,
        reason=reason,
        hours=parse_amounts(hours, "--hours") if hours else None,
        quota=parse_amounts(quota, "--quota") if quota else None,
        storage_gb=storage_gb,
    )


@alloc_app.command("reject")
def reject(allocation_id: IdArg, reason: ReasonArg, as_json: JsonOpt = False) -> None:
    """Turn the request down, saying why (reviewers)."""
    _act(allocation_id, "reject", as_json, reason=reason)


@alloc_app.command("withdraw")
def withdraw(allocation_id: IdArg, reason: ReasonOpt = "", as_json: JsonOpt = False) -> None:
    """Take your request back (the organisation's admins)."""
    _act(allocation_id, "withdraw", as_json, reason=reason)


@alloc_app.command("renew")
def renew(
    allocation_id: IdArg,
    justification: Annotated[str, typer.Option("--justification", "-j")],
    start: Annotated[str, typer.Option()],
    end: Annotated[str, typer.Option()],
    hours: HoursOpt = None,
    quota: QuotaOpt = None,
    storage_gb: StorageOpt = None,
    program: Annotated[str | None, typer.Option(help="Default: the same program.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask to continue an active or expired allocation (reviewed again)."""
    _act(
        allocation_id,
        "renew",
        as_json,
        justification=justification,
        hours=parse_amounts(hours, "--hours"),
        quota=parse_amounts(quota, "--quota"),
        storage_gb=storage_gb or 0.0,
        starts_at=parse_date(start, "--start"),
        ends_at=parse_date(end, "--end"),
        program=program,
    )


@alloc_app.command("change")
def change(
    allocation_id: IdArg,
    justification: Annotated[str, typer.Option("--justification", "-j")],
    hours: Annotated[
        list[str] | None, typer.Option("--hours", help="RESOURCE=HOURS to add; repeat.")
    ] = None,
    quota: Annotated[
        list[str] | None, typer.Option("--quota", help="TYPE=DEVICES, the new quota; repeat.")
    ] = None,
    storage_gb: Annotated[float | None, typer.Option(help="Storage to add, GB.")] = None,
    end: Annotated[str | None, typer.Option(help="A later end.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask to amend an active allocation: more hours, another quota, a later end."""
    _act(
        allocation_id,
        "change",
        as_json,
        justification=justification,
        hours=parse_amounts(hours, "--hours"),
        quota=parse_amounts(quota, "--quota"),
        storage_gb=storage_gb or 0.0,
        ends_at=parse_date(end, "--end") if end else None,
    )


def _act(allocation_id: int, action: str, as_json: bool, **body: Any) -> None:
    with errors(), Client.from_config() as c:
        a = c.allocation_action(allocation_id, action, **body)
    _done(a, as_json)


def _done(a: AllocationView, as_json: bool) -> None:
    if as_json:
        print_json(a)
        return
    out.print(f"allocation {a.id} ({a.kind}, {a.project}, {escape(a.program)}): {_state(a)}")


def _state(a: AllocationView) -> str:
    if a.state == "requested" and a.approvals:
        return f"requested ({len(a.approvals)}/{a.required_approvals} approvals)"
    return a.state


def _print(a: AllocationView) -> None:
    parent = f" of allocation {a.parent_id}" if a.parent_id else ""
    out.print(f"[bold]allocation {a.id}[/] {a.kind}{parent}: {_state(a)}")
    out.print(f"project {a.project} ({escape(a.organisation)}), program {escape(a.program)}")
    out.print(f"requested by {a.requested_by} on {when(a.created_at)}")
    out.print(f"period {day(a.starts_at)} .. {day(a.ends_at)}")
    out.print(
        f"asked: hours {amounts(a.requested_hours)}; quota {amounts(a.requested_quota)}; "
        f"storage {a.requested_storage_gb:g} GB"
    )
    if a.granted_hours is not None:
        out.print(
            f"granted: hours {amounts(a.granted_hours)}; quota "
            f"{amounts(a.granted_quota)}; storage {a.granted_storage_gb or 0:g} GB"
        )
    if a.approvals:
        out.print(f"approved so far by {', '.join(a.approvals)}")
    out.print(f"justification: {escape(a.justification)}")
