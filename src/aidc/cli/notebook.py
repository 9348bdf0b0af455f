"""`aidc notebook`: JupyterLab sessions on the center's nodes, through the aidc server."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.output import err, errors, fail, out, when
from aidc.client import Client
from aidc.core.units import format_duration, parse_duration, parse_memory_mib
from aidc.schemas_notebooks import NotebookView

app = typer.Typer(no_args_is_help=True, help="Notebook sessions: JupyterLab on a GPU node.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
IdArg = Annotated[str, typer.Argument(help="The session's id (aidc notebook list).")]
STATE_STYLE = {"starting": "cyan", "ready": "bold green", "stopped": "magenta"}


@app.command("start")
def start(
    project: Annotated[str, typer.Option("--project", "-p", help="Project to bill.")],
    gpus: Annotated[int, typer.Option("--gpus", "-g", help="Accelerators.")] = 0,
    gpu_type: Annotated[str | None, typer.Option(help="h100, a100, ... (or a list).")] = None,
    cpus: Annotated[int, typer.Option(help="CPU cores.")] = 1,
    mem: Annotated[str, typer.Option(help="Memory, e.g. 16G.")] = "4G",
    time: Annotated[
        str | None, typer.Option("--time", "-t", help="Maximum lifetime: 2h, 8h (default 8h).")
    ] = None,
    idle: Annotated[
        str | None, typer.Option(help="Stop after this long idle (default: the center's).")
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="A named environment (aidc env list).")
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", help="name@version:/mount (recorded; mounting comes later)."),
    ] = None,
    shared: Annotated[bool, typer.Option(help="Members of the project may enter too.")] = False,
    wait: Annotated[bool, typer.Option(help="Wait until it is ready, showing progress.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for ready.")] = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Start JupyterLab on a node the scheduler picks: `aidc notebook start -p P --gpus 1`."""
    body: dict[str, object] = {
        "project": project,
        "accelerators": gpus,
        "accelerator_type": gpu_type,
        "cpus": cpus,
        "memory_mib": _parse(mem, parse_memory_mib, "--mem"),
        "time_limit_s": _parse(time, parse_duration, "--time") if time else None,
        "environment": environment,
        "datasets": dataset or [],
        "shared": shared,
    }
    if idle is not None:
        body["idle_timeout_s"] = _parse(idle, parse_duration, "--idle")
    with errors(), Client.from_config() as c:
        nb = c.start_notebook(**body)
        if wait:
            if not as_json:
                err.print(f"session {nb.id}: job {nb.job_id}")
            for seen in c.wait_notebook(nb.id, timeout=timeout):
                nb = seen
                if not as_json:
                    err.print(f"  {nb.state}: {escape(nb.message)}")
        link = c.notebook_link(nb.id) if nb.state == "ready" else None
    if as_json:
        out.print_json(nb.model_dump_json())
    elif link is not None:
        out.print(f"open {link}")
        err.print(
            "(the link logs your browser in for 2 minutes; `aidc notebook open` makes another)"
        )
    else:
        out.print(f"session {nb.id}: {nb.state}, {escape(nb.message)}")
    if nb.state == "stopped":
        raise typer.Exit(1)


@app.command("list")
def list_(
    active: Annotated[bool, typer.Option(help="Only sessions not stopped.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sessions you may see, newest first."""
    with errors(), Client.from_config() as c:
        found = c.notebooks(active=active)
    if as_json:
        out.print_json(json.dumps([n.model_dump(mode="json") for n in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "STATE", "PROJECT", "USER", "NODE", "ASKS", "CREATED", "MESSAGE"):
        table.add_column(col)
    for n in found:
        table.add_row(
            n.id,
            _state(n.state),
            n.project,
            n.user,
            n.node or "-",
            _asks(n),
            when(n.created_at),
            escape(n.message),
        )
    out.print(table)


@app.command("show")
def show(session_id: IdArg, as_json: JsonOpt = False) -> None:
    """One session in full."""
    with errors(), Client.from_config() as c:
        n = c.notebook(session_id)
    if as_json:
        out.print_json(n.model_dump_json())
        return
    out.print(f"[bold]{n.id}[/]  {_state(n.state)}  {escape(n.message)}")
    out.print(f"project {n.project}  user {n.user}  {'shared' if n.shared else 'private'}")
    out.print(f"asks {_asks(n)}  environment {n.environment or '-'}")
    out.print(f"job {n.job_id} ({n.job_state})  node {n.node or '-'}  restarts {n.restarts}")
    out.print(f"url {n.url}")
    idle = format_duration(int(n.idle_timeout_s)) if n.idle_timeout_s else "never"
    out.print(
        f"idle limit {idle}  lifetime {format_duration(int(n.time_limit_s))}"
        f"  expires {when(n.expires_at)}"
    )
    out.print(
        f"created {when(n.created_at)}  ready {when(n.ready_at)}  stopped {when(n.stopped_at)}"
        f"  last activity {when(n.last_activity)}"
    )
    if n.datasets:
        out.print(f"datasets {', '.join(n.datasets)} (recorded, not mounted yet)")


@app.command("stop")
def stop(session_id: IdArg) -> None:
    """Stop the session: its job is cancelled and its accelerators freed."""
    with errors(), Client.from_config() as c:
        n = c.stop_notebook(session_id)
    out.print(f"session {n.id}: {n.state}, {escape(n.message)}")


@app.command("restart")
def restart(
    session_id: IdArg,
    wait: Annotated[bool, typer.Option(help="Wait until it is ready.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for ready.")] = 600.0,
) -> None:
    """Run the session again in a new job (same id, URL and files; kernels start afresh)."""
    with errors(), Client.from_config() as c:
        n = c.restart_notebook(session_id)
        if wait:
            for n in c.wait_notebook(session_id, timeout=timeout):
                err.print(f"  {n.state}: {escape(n.message)}")
    out.print(f"session {n.id}: {n.state}, {escape(n.message)}")


@app.command("open")
def open_(session_id: IdArg) -> None:
    """Print a link that logs your browser in to the session (valid two minutes)."""
    with errors(), Client.from_config() as c:
        n = c.notebook(session_id)
        if n.state != "ready":
            fail(f"session {n.id} is {n.state}: {n.message}")
        link = c.notebook_link(session_id)
    out.print(link)


def _state(s: str) -> str:
    return f"[{STATE_STYLE.get(s, 'white')}]{s}[/]"


def _asks(n: NotebookView) -> str:
    r = n.request
    gpus = r.get("accelerators") or 0
    kind = r.get("accelerator_type") or "accelerators"
    kind = ",".join(kind) if isinstance(kind, list) else kind
    return f"{gpus} {kind}, {r.get('cpus')} cpu" if gpus else f"{r.get('cpus')} cpu"


def _parse(value: str, parser: object, option: str) -> int:
    try:
        return parser(value)  # type: ignore[operator,no-any-return]
    except ValueError as e:
        fail(f"{option}: {e}")
