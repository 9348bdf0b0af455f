"""`aidc env`: named software environments of your organisation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.output import errors, fail, out, when
from aidc.client import Client
from aidc.schemas_notebooks import EnvironmentView

app = typer.Typer(no_args_is_help=True, help="Software environments for jobs and notebooks.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NameArg = Annotated[str, typer.Argument(help="The environment's name.")]


@app.command("create")
def create(
    name: NameArg,
    requirements: Annotated[
        Path | None, typer.Option(help="A requirements.txt, built into a cached virtualenv.")
    ] = None,
    module: Annotated[
        list[str] | None, typer.Option("--module", help="A module to load on Slurm nodes.")
    ] = None,
    image: Annotated[str, typer.Option(help="A container image for Ray/container pools.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an environment: `aidc env create torch --requirements req.txt`."""
    text = ""
    if requirements is not None:
        try:
            text = requirements.read_text()
        except OSError as e:
            fail(f"--requirements: cannot read {requirements}: {e.strerror}")
    with errors(), Client.from_config() as c:
        env = c.create_environment(name=name, requirements=text, modules=module or [], image=image)
    if as_json:
        out.print_json(env.model_dump_json())
        return
    out.print(f"environment {escape(env.name)}: {_built(env)}")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Your organisation's environments."""
    with errors(), Client.from_config() as c:
        found = c.environments()
    if as_json:
        out.print_json(json.dumps([e.model_dump(mode="json") for e in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "ORGANISATION", "VENV", "MODULES", "IMAGE", "CREATED"):
        table.add_column(col)
    for e in found:
        table.add_row(
            e.name,
            e.organisation,
            _built(e),
            " ".join(e.modules) or "-",
            e.image or "-",
            when(e.created_at),
        )
    out.print(table)


@app.command("show")
def show(
    name: NameArg,
    log: Annotated[bool, typer.Option(help="Print the build log too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One environment: what it holds and how its build went."""
    with errors(), Client.from_config() as c:
        e = c.environment(name)
        text = c.environment_log(name) if log else ""
    if as_json:
        out.print_json(e.model_dump_json())
        return
    out.print(f"[bold]{escape(e.name)}[/] ({escape(e.organisation)}), by {e.created_by}")
    out.print(f"virtualenv {_built(e)}{'  ' + e.venv if e.venv else ''}")
    if e.build_error:
        out.print(f"build error: {escape(e.build_error)}")
    out.print(f"modules {' '.join(e.modules) or '-'}  image {e.image or '-'}")
    if e.requirements:
        out.print("requirements:")
        out.print(escape(e.requirements.rstrip()))
    if text:
        out.print("build log:")
        out.print(escape(text.rstrip()))


def _built(e: EnvironmentView) -> str:
    if e.build_state == "none":
        return "none"
    lab = " (with jupyterlab)" if e.has_jupyterlab else ""
    return f"{e.build_state}{lab}"
