"""`aidc user set-password`: the password for the web portal's login."""

from __future__ import annotations

from typing import Annotated

import typer

from aidc.cli.output import errors, fail, out
from aidc.client import Client

app = typer.Typer(help="Your account: the web portal's password.", no_args_is_help=True)


@app.command("set-password")
def set_password(
    user: Annotated[
        str | None, typer.Option("--user", help="Another user's (center admins only).")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the new password from stdin's first line (your current one, if you "
            "have one, from the second).",
        ),
    ] = False,
) -> None:
    """Set the password you log in to the web portal with (asked for twice, not echoed)."""
    if password_stdin:
        stdin = typer.get_text_stream("stdin")
        password = stdin.readline().rstrip("\n")
        current = stdin.readline().rstrip("\n")
    else:
        current = None
        if user is None:
            current = typer.prompt("Current password (empty if none)", default="", hide_input=True)
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("password: give a password")
    with errors(), Client.from_config() as c:
        c.set_password(password, username=user, current=current or None)
    out.print(f"Password set for {user or 'you'}.")
