"""Limits the API enforces before any route runs, and the sign-in rate limiter.

``BodyLimit`` refuses request bodies over ``AIDC_MAX_BODY_BYTES`` with a 413 (declared by
Content-Length, or counted as a chunked body streams in), so no route reads an unbounded
body into memory. ``SignInLimiter`` is a sliding window per (username, client address) for
the routes that take a credential other than a token (accepting an invitation).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aidc.services.errors import TooMany


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        # Read the body here, up to the limit, and hand it on whole: a route's own reader
        # turns any error while reading into a 400, which would hide the reason.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "too_large",
                "message": f"the request body is larger than {self.max_bytes} bytes "
                "(AIDC_MAX_BODY_BYTES)",
                "fields": [],
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(chunks: list[bytes], last: Message | None, rest: Receive) -> Receive:
    """A ``receive`` that gives the buffered body as one message, then what comes after
    (a disconnect, which streaming responses listen for)."""
    pending: list[Message] = (
        [{"type": "http.request", "body": b"".join(chunks)}] if not last else [last]
    )

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await rest()

    return receive


class SignInLimiter:
    """At most ``attempts`` per ``window_s`` for one (username, address); in-process, so
    each API worker counts on its own (a worker pool multiplies the limit by its size)."""

    def __init__(
        self,
        attempts: int = 10,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 100_000:  # forget everyone rather than grow without bound
                self._seen.clear()
            times = self._seen.setdefault((username, address), deque())
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.attempts:
                wait = times[0] + self.window_s - now
                raise TooMany(
                    f"too many sign-in attempts for {username!r}; try again in {wait:.0f} s",
                    field="username",
                )
            times.append(now)
