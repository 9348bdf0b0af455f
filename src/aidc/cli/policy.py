"""`aidc policy`: show the scheduling policy; center admins set it from a file or a preset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aidc.cli.output import errors, fail, out, when
from aidc.client import Client
from aidc.core.policy import PRESETS
from aidc.core.policy_text import dumps
from aidc.schemas import PolicyView

app = typer.Typer(
    name="policy",
    help="The scheduling policy (docs/policy.md): anyone may show it; center admins set it.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of TOML.")]


@app.command()
def show(as_json: JsonOpt = False) -> None:
    """The policy in effect, every key expanded: a file you can edit and `aidc policy set`."""
    with errors(), Client.from_config() as c:
        view = c.policy()
    if as_json:
        out.print_json(view.model_dump_json())
        return
    # markup=False: TOML tables look like Rich markup ([weights]).
    out.print(_header(view), markup=False)
    out.print(dumps(view.effective), end="", markup=False)


@app.command("set")
def set_(
    file: Annotated[Path, typer.Argument(help="TOML policy file (docs/policy.md).")],
) -> None:
    """Replace the policy with FILE's; it is checked first, and used from the next pass."""
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as e:
        fail(f"FILE: cannot read {file}: {getattr(e, 'strerror', None) or e}")
    with errors(), Client.from_config() as c:
        view = c.set_policy(toml=text)
    _say_set(view)


@app.command()
def preset(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(PRESETS)}.")],
) -> None:
    """Replace the policy with a preset as it is: fairshare, fifo or sjf."""
    with errors(), Client.from_config() as c:
        view = c.set_policy(preset=name)
    _say_set(view)


def _header(view: PolicyView) -> str:
    if view.version == 0:
        return "# policy: the built-in default (never set)"
    return f"# policy version {view.version}, set {when(view.set_at)} by {view.set_by}"


def _say_set(view: PolicyView) -> None:
    out.print(
        f"policy version {view.version} (preset {view.preset}) is in effect; "
        "the scheduler uses it from its next pass",
        markup=False,
    )
