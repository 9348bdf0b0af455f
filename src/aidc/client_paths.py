"""One piece of a URL path, quoted whole (a name with '/' stays one segment)."""

from urllib.parse import quote


def q(part: str) -> str:
    return quote(part, safe="")
