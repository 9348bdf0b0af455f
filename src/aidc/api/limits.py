"""Limits the API enforces before any route runs, and the sign-in rate limiter.

``BodyLimit`` refuses request bodies over ``AIDC_MAX_BODY_BYTES`` with a 413 (declared by
Content-Length, or counted as a chunked body streams in), so no route reads an unbounded
body into memory; it holds no body itself, so a route that streams (dataset chunks) writes
bytes as they arrive. ``SignInLimiter`` is a sliding window per (username, client address) for
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
    """Counts the body's bytes as they pass on to the route, never holding them: a
    declared Content-Length over the limit is refused before any byte is read, and a
    chunked body is cut at the first message past the limit. The route then sees the end
    of the request (a disconnect) and whatever it answers is dropped; the 413 is ours."""

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
        seen = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; the route's own answer to the cut body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)

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
