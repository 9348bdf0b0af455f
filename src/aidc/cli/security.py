"""`aidc token list|create|revoke` and `aidc security-log` (center admins)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from aidc.cli.output import errors, fail, out, when
from aidc.client import Client
from aidc.core.units import parse_duration

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
token_app = typer.Typer(help="Your API tokens: list, create, revoke.", no_args_is_help=True)


@token_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option(help="Another user's (center admins).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Your tokens: names and dates (the secrets are never shown again)."""
    with errors(), Client.from_config() as c:
        found = c.tokens(user)
    if as_json:
        out.print_json(json.dumps([t.model_dump(mode="json") for t in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "CREATED", "EXPIRES", "REVOKED"):
        table.add_column(col)
    for t in found:
        table.add_row(str(t.id), t.name, when(t.created_at), when(t.expires_at), when(t.revoked_at))
    out.print(table)


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Option(help="What it is for (a laptop, a CI job).")] = "cli",
    ttl: Annotated[str | None, typer.Option(help="Lifetime, e.g. 30d or 12h.")] = None,
) -> None:
    """A new token for yourself; it is printed this once."""
    try:
        ttl_s = parse_duration(ttl) if ttl else None
    except ValueError as e:
        fail(f"--ttl: {e}")
    with errors(), Client.from_config() as c:
        issued = c.create_token(name, ttl_s)
    out.print(f"token {issued.id} ({issued.name}), expires {when(issued.expires_at)}:")
    typer.echo(issued.token)


@token_app.command("revoke")
def revoke_token(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token; requests with it fail from then on."""
    with errors(), Client.from_config() as c:
        t = c.revoke_token(token_id)
    out.print(f"token {t.id} ({t.name}) revoked")


def security_log(
    action: Annotated[str | None, typer.Option(help="One action, e.g. token.revoked.")] = None,
    actor: Annotated[str | None, typer.Option(help="One actor's.")] = None,
    limit: Annotated[int, typer.Option(help="The latest this many.")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """The security audit log: sign-ins, tokens, roles, approvals, admin cancels, preemptions."""
    with errors(), Client.from_config() as c:
        found = c.security_log(action, actor, limit)
    if as_json:
        out.print_json(json.dumps([e.model_dump(mode="json") for e in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("WHEN", "ACTOR", "ACTION", "TARGET", "DETAILS"):
        table.add_column(col)
    for e in found:
        details = ", ".join(f"{k}={v}" for k, v in e.details.items())
        table.add_row(when(e.at), e.actor, e.action, f"{e.target_kind} {e.target}", details)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
    app.command("security-log")(security_log)
