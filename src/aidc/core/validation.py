"""Turning pydantic's validation errors into (field, message) pairs people can act on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# A model-level check names its field by starting its message with "field: ".
_PREFIX = "Value error, "


def field_errors(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> list[tuple[str, str]]:
    """``[(field, message)]`` for pydantic error dicts; ``skip`` drops leading loc parts
    (FastAPI puts "body" first)."""
    out = []
    for e in errors:
        loc = [str(x) for x in e.get("loc", ())][skip:]
        msg = str(e.get("msg", "invalid value")).removeprefix(_PREFIX)
        if not loc and ": " in msg:
            field, _, msg = msg.partition(": ")
            loc = [field]
        if e.get("type") == "missing":
            msg = "is required"
        elif e.get("type") == "extra_forbidden":
            msg = "is not a known field; check its spelling"
        out.append((".".join(loc) or "body", msg))
    return out
