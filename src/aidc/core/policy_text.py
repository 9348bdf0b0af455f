"""A policy as TOML text: read with errors that name the key and say the fix, and written back
fully expanded (what `aidc policy show` prints, ready to edit and set again)."""

from __future__ import annotations

import difflib
import json
import tomllib
from typing import Any

import tomli_w
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from aidc.core.policy import PRESETS, Policy, from_mapping

# A policy is a page of settings; this bounds what one request can make the server parse.
MAX_TEXT_BYTES = 64 * 1024


class PolicyError(ValueError):
    """An unusable policy text; ``fields`` are (dotted key, what is wrong and how to fix it)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in fields))
        self.fields = fields


def preset_text(name: str) -> str:
    """The smallest policy file: a preset and nothing else."""
    return f'preset = "{name}"\n'


def loads(text: str) -> Policy:
    """The policy ``text`` describes, merged over its preset; else PolicyError."""
    size = len(text.encode())
    if size > MAX_TEXT_BYTES:
        raise PolicyError([("toml", f"is {size} bytes; a policy may have {MAX_TEXT_BYTES}")])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends with "(at line N, column M)".
        raise PolicyError([("toml", f"not valid TOML: {e}")]) from None
    name = data.get("preset", "fairshare")
    if not isinstance(name, str) or name not in PRESETS:
        shown = json.dumps(name) if isinstance(name, str | int | float | bool) else "a table"
        raise PolicyError([("preset", f"unknown preset {shown}; use one of {', '.join(PRESETS)}")])
    try:
        return from_mapping(data)
    except ValidationError as e:
        raise PolicyError(explain(e)) from None


def dumps(policy: Policy | dict[str, Any]) -> str:
    """Every key of ``policy`` as TOML; ``loads(dumps(p)) == p``. Also takes the expanded
    dict the API returns, as is: a client older than its server must still print it."""
    data = policy.model_dump(mode="json") if isinstance(policy, Policy) else policy
    return tomli_w.dumps(_tidy(data))


def explain(error: ValidationError) -> list[tuple[str, str]]:
    """(dotted key, message with the fix) for each problem pydantic found."""
    return [(".".join(str(x) for x in e["loc"]) or "policy", _message(e)) for e in error.errors()]


_DEFAULT_KEYS: dict[str, Any] = Policy().model_dump(mode="json")

_KINDS = {
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": 'must be text in double quotes, e.g. "rack"',
}
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _message(e: ErrorDetails) -> str:
    kind = e["type"]
    ctx: dict[str, Any] = dict(e.get("ctx") or {})
    loc = [str(x) for x in e["loc"]]
    got = f" (got {_show(_tidy(e.get('input')))})"
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {_show(_tidy(ctx[key]))}{got}"
    if kind in _KINDS:
        return _KINDS[kind] + got
    if kind == "enum":
        return f"must be one of {ctx['expected']}{got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a table: [{'.'.join(loc)}] with its keys{got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must have at most {ctx['max_length']} characters"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    return str(e["msg"]).removeprefix("Value error, ")


def _unknown_key(loc: list[str]) -> str:
    section: Any = _DEFAULT_KEYS
    for part in loc[:-1]:
        section = section.get(part) if isinstance(section, dict) else None
    known = sorted(section) if isinstance(section, dict) else []
    if not known:
        return "is not a known key; see docs/policy.md"
    close = difflib.get_close_matches(loc[-1], known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    where = f"[{'.'.join(loc[:-1])}]" if len(loc) > 1 else "the top level"
    return f"is not a known key; {hint}the keys of {where} are {', '.join(known)}"


def _show(value: Any) -> str:
    """A value as it looks in TOML, for "got ..." in messages."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _tidy(value: Any) -> Any:
    # 604800, not 604800.0: whole seconds read better, and parse back as the same float.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        # TOML has no null: an unset optional key (None) is left out, and reads back as None.
        return {k: _tidy(v) for k, v in value.items() if v is not None}
    return value
