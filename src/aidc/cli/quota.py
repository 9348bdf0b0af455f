"""`aidc quota`, `aidc cohort` and `aidc project`: the quota tree and fair-share weights."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from aidc.cli.output import errors, fail, out
from aidc.client import Client
from aidc.core.units import parse_memory_mib
from aidc.scheduler.snapshot import MEMORY
from aidc.schemas import CohortView

quota_app = typer.Typer(help="Quotas of projects and cohorts, and what is in use.")
cohort_app = typer.Typer(help="The cohort tree: programs and organisations.")
project_app = typer.Typer(help="Projects: fair-share weights.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="A project.")]
CohortOpt = Annotated[str | None, typer.Option("--cohort", "-c", help="A cohort.")]
ResourceArg = Annotated[str, typer.Argument(help="a100, h100, ..., cpus or memory_mib.")]


@quota_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Quotas you may see, with what is in use now and how much is borrowed."""
    with errors(), Client.from_config() as c:
        found = c.quotas()
    if as_json:
        out.print_json(json.dumps([q.model_dump(mode="json") for q in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("PROJECT/COHORT", "RESOURCE", "NOMINAL", "BORROWING LIMIT", "LENDING LIMIT"):
        table.add_column(col)
    for col in ("USED", "BORROWED"):
        table.add_column(col, justify="right")
    for q in found:
        owner = escape(q.owner)
        if q.owner_kind == "cohort":
            owner = f"[bold]{owner}[/] (cohort)"
        table.add_row(
            owner,
            q.resource,
            _num(q.nominal, q.resource) if q.has_quota else "-",
            _num(q.borrowing_limit, q.resource, "no cap") if q.has_quota else "-",
            _num(q.lending_limit, q.resource, "all") if q.has_quota else "-",
            _num(q.used, q.resource),
            _num(q.borrowed, q.resource),
        )
    out.print(table)


@quota_app.command("set")
def set_(
    resource: ResourceArg,
    nominal: Annotated[str, typer.Option(help="Guaranteed amount (memory: 512G, 2T).")],
    project: ProjectOpt = None,
    cohort: CohortOpt = None,
    borrowing_limit: Annotated[
        str | None, typer.Option(help="Most to use beyond nominal (default: no cap).")
    ] = None,
    lending_limit: Annotated[
        str | None, typer.Option(help="Most of the unused quota others may borrow (default: all).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set one resource of a quota: `aidc quota set -p hanbit-vision a100 --nominal 2`."""
    _one_owner(project, cohort)
    with errors(), Client.from_config() as c:
        q = c.set_quota(
            resource,
            _amount(nominal, resource, "--nominal") or 0.0,
            project=project,
            cohort=cohort,
            borrowing_limit=_amount(borrowing_limit, resource, "--borrowing-limit"),
            lending_limit=_amount(lending_limit, resource, "--lending-limit"),
        )
    if as_json:
        out.print_json(q.model_dump_json())
        return
    out.print(
        f"{escape(q.owner)} {q.resource}: nominal {_num(q.nominal, q.resource)}, "
        f"borrowing limit {_num(q.borrowing_limit, q.resource, 'none')}, "
        f"lending limit {_num(q.lending_limit, q.resource, 'none')}"
    )


@quota_app.command("clear")
def clear(resource: ResourceArg, project: ProjectOpt = None, cohort: CohortOpt = None) -> None:
    """Remove one resource of a quota."""
    _one_owner(project, cohort)
    with errors(), Client.from_config() as c:
        c.clear_quota(resource, project=project, cohort=cohort)
    out.print(f"cleared {resource} quota of {escape(project or cohort or '')}")


@cohort_app.command("list")
def cohort_list(as_json: JsonOpt = False) -> None:
    """The cohort tree, with the projects you may see."""
    with errors(), Client.from_config() as c:
        found = c.cohorts()
    if as_json:
        out.print_json(json.dumps([x.model_dump(mode="json") for x in found]))
        return
    root = Tree("[bold]center[/]")
    branches: dict[str, Tree] = {}
    # Parents come first; a parent you may not see puts its child at the root.
    for x in found:
        parent = branches.get(x.parent or "", root)
        branches[x.name] = parent.add(_label(x))
        for p in x.projects:
            branches[x.name].add(f"project {escape(p)}")
    out.print(root)


@cohort_app.command("create")
def cohort_create(
    name: str,
    parent: Annotated[str | None, typer.Option(help="Parent program cohort.")] = None,
    kind: Annotated[str, typer.Option(help="Only program cohorts are created here.")] = "program",
) -> None:
    """Create a program cohort (organisations get their own when they are created)."""
    with errors(), Client.from_config() as c:
        x = c.create_cohort(name, parent=parent, kind=kind)
    out.print(f"created {_label(x)}")


@cohort_app.command("move")
def cohort_move(
    name: str,
    parent: Annotated[str | None, typer.Option(help="The new parent program.")] = None,
    root: Annotated[bool, typer.Option("--root", help="Move it to the root.")] = False,
) -> None:
    """Put a cohort under a program: `aidc cohort move "Hanbit Vision" --parent ai-voucher`."""
    if (parent is None) == (not root):
        fail("--parent: give a parent program, or --root to move it to the root")
    with errors(), Client.from_config() as c:
        x = c.move_cohort(name, parent)
    out.print(f"{_label(x)} is now under {escape(x.parent or 'the root')}")


@project_app.command("shares")
def shares(name: str, value: Annotated[float, typer.Argument(help="The new weight.")]) -> None:
    """Set a project's fair-share weight (its allocation's shares)."""
    with errors(), Client.from_config() as c:
        r = c.set_shares(name, value)
    out.print(f"{escape(r.project)} shares {r.shares:g}")


def _one_owner(project: str | None, cohort: str | None) -> None:
    if (project is None) == (cohort is None):
        fail("--project: give exactly one of --project or --cohort")


def _amount(text: str | None, resource: str, option: str) -> float | None:
    """A number; memory also as a size (512G) so nobody counts MiB by hand. The server
    checks the range and names the field."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        if resource != MEMORY:
            fail(f"{option}: {text!r} is not a number")
    try:
        return float(parse_memory_mib(text))
    except ValueError as e:
        fail(f"{option}: {e}")


def _num(value: float | None, resource: str, none: str = "-") -> str:
    if value is None:
        return none
    if resource == MEMORY and value >= 1024:
        return f"{value / 1024:g} GiB"
    return f"{value:g}"


def _label(x: CohortView) -> str:
    return f"{escape(x.name)} [dim]({x.kind})[/]"
