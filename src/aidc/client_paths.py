"""What the client's call mixins share: quoting a path segment, and the plumbing they call
(``Client`` implements it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


def q(part: str) -> str:
    """One piece of a URL path, quoted whole (a name with '/' stays one segment)."""
    return quote(part, safe="")


class Calls:
    url: str

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        raise NotImplementedError  # Client's
