"""Parsing of the sizes and durations users type: ``1h30m``, ``2-00:00:00``, ``16G``."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_MEMORY_FACTOR_MIB = {
    "": 1,
    "b": 1 / (1024 * 1024),
    "k": 1 / 1024,
    "m": 1,
    "g": 1024,
    "t": 1024 * 1024,
}


def parse_duration(text: str | int) -> int:
    """Seconds in ``text``: ``90``, ``45s``, ``30m``, ``1h30m``, ``2d``, ``HH:MM:SS`` or
    Slurm's ``D-HH:MM:SS``. Raises ValueError with an example of the accepted forms."""
    if isinstance(text, int):
        seconds = text
    else:
        s = text.strip().lower()
        seconds = _parse_duration_text(s)
    if seconds <= 0:
        raise ValueError("must be a positive duration such as 30m, 2h or 1d12h")
    return seconds


def _parse_duration_text(s: str) -> int:
    if s.isdigit():
        return int(s)
    if ":" in s:
        days = 0
        hms = s
        if "-" in s:
            d, _, hms = s.partition("-")
            if not d.isdigit():
                raise ValueError(f"{s!r} is not a duration; use D-HH:MM:SS")
            days = int(d)
        parts = hms.split(":")
        if len(parts) > 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"{s!r} is not a duration; use HH:MM:SS or 1h30m")
        total = 0
        for p in parts:
            total = total * 60 + int(p)
        if len(parts) == 2:
            total *= 60  # MM:SS is ambiguous; Slurm reads H:MM as hours:minutes
        return days * 86400 + total
    pos = 0
    total_f = 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total_f += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"{s!r} is not a duration; use forms like 90s, 30m, 1h30m, 2d")
    return round(total_f)


def parse_memory_mib(text: str | int) -> int:
    """MiB in ``text``: a bare number is MiB; suffixes K, M, G, T (binary) are accepted."""
    if isinstance(text, int):
        mib = text
    else:
        m = _MEMORY.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a memory size; use forms like 512M, 16G, 1T")
        prefix, suffix = m.group(2).lower(), m.group(3).lower()
        if not prefix and suffix:
            # "16B" is sixteen bytes, not 16 MiB; "16iB" is nothing.
            if suffix != "b":
                raise ValueError(f"{text!r} is not a memory size; use forms like 512M, 16G, 1T")
            prefix = "b"
        mib = int(float(m.group(1)) * _MEMORY_FACTOR_MIB[prefix])
    if mib <= 0:
        raise ValueError("must be a positive memory size such as 512M or 16G")
    return mib


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1h2m5s``; the inverse of parse_duration for whole seconds."""
    s = int(seconds)
    if s <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        q, s = divmod(s, size)
        if q:
            out.append(f"{q}{unit}")
    return "".join(out)
