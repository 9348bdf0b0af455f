"""What the organisation, program and allocation commands share: dates, amounts, JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Annotated

import typer
from pydantic import BaseModel

from aidc.cli.output import fail, out

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def parse_date(text: str, option: str) -> float:
    """2027-01-01 (midnight UTC) or a full ISO time, as POSIX seconds."""
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date like 2027-01-31")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def parse_amounts(items: Sequence[str] | None, option: str) -> dict[str, float]:
    """["a100=2000", "pf=10"] -> {"a100": 2000.0, "pf": 10.0}."""
    found: dict[str, float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option}: {item!r} is not RESOURCE=NUMBER (e.g. a100=2000)")
        try:
            found[key.strip()] = float(value)
        except ValueError:
            fail(f"{option}: {value!r} is not a number")
    return found


def day(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def amounts(m: Mapping[str, float] | None) -> str:
    if not m:
        return "-"
    return ", ".join(f"{k} {v:,.6g}" for k, v in sorted(m.items()))


def print_json(found: BaseModel | Sequence[BaseModel]) -> None:
    if isinstance(found, BaseModel):
        out.print_json(found.model_dump_json())
    else:
        out.print_json(json.dumps([x.model_dump(mode="json") for x in found]))
