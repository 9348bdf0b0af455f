"""Rendering for the CLI: tables, times, and errors that end with the right exit code."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from aidc.client import ApiError, ConnectionFailed

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

USER_ERROR = 2  # a mistake the user can fix (bad input, unknown job): like Click's usage errors
STATE_STYLE = {
    "QUEUED": "yellow",
    "ADMITTED": "cyan",
    "STARTING": "cyan",
    "RUNNING": "green",
    "SUCCEEDED": "bold green",
    "FAILED": "bold red",
    "CANCELLED": "magenta",
    "PREEMPTED": "yellow",
    "LOST": "bold red",
}


def fail(message: str, code: int = USER_ERROR) -> NoReturn:
    _say_error(message)
    raise typer.Exit(code)


def fail_lines(lines: Iterable[str], code: int = USER_ERROR) -> NoReturn:
    """Several errors, one line each (one per field at fault)."""
    for line in lines:
        _say_error(line)
    raise typer.Exit(code)


def _say_error(message: str) -> None:
    # escape: messages quote user input and TOML such as [[pools]], not Rich markup
    err.print(f"[bold red]error:[/] {escape(message)}")


@contextmanager
def errors() -> Iterator[None]:
    """Turn client errors into a message and exit code 2 (user error) or 1 (server/network)."""
    try:
        yield
    except ApiError as e:
        for line in [f"{f}: {m}" for f, m in e.fields] or [e.message]:
            _say_error(line)
        raise typer.Exit(USER_ERROR if e.is_user_error else 1) from None
    except ConnectionFailed as e:
        fail(str(e), code=1)


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def state(s: str) -> str:
    return f"[{STATE_STYLE.get(s, 'white')}]{s}[/]"


def write_bytes(chunks: Iterator[bytes], flush: Callable[[], None] = sys.stdout.flush) -> None:
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
        flush()
