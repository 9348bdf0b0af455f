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
    """At most ``attempts`` per ``window_s`` for one (key, address); in-process, so each
    API worker counts on its own (a worker pool multiplies the limit by its size).

    ``check`` counts every attempt (accepting an invitation: one per username and
    address). ``allow`` and ``failed`` count only failures, for checks that succeed all
    day (passwords at the portal, bearer tokens): an address with too many failed checks
    is refused every check, right or wrong, until the window has room again."""

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
        self._good: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        with self._lock:
            times = self._times(username, address)
            what = f"too many sign-in attempts for {username!r}"
            self._refuse_if_full(times, what, "username", "")
            times.append(self.clock())

    def allow(self, key: str, address: str, what: str, fix: str, credential: str = "") -> None:
        """TooMany if ``address`` had too many failed ``key`` checks in the window, unless
        ``credential`` (a token's digest) succeeded from there before: the other users of
        a shared login node keep working while one of them sends a stale token in a loop,
        and a guess is still refused before it is checked."""
        with self._lock:
            if credential and credential in self._good.get((key, address), ()):
                return
            self._refuse_if_full(
                self._times(key, address), f"too many failed {what} from {address}", None, fix
            )

    def failed(self, key: str, address: str) -> None:
        with self._lock:
            self._times(key, address).append(self.clock())

    def succeeded(self, key: str, address: str, credential: str) -> None:
        with self._lock:
            if len(self._good) > 10_000:
                self._good.clear()
            good = self._good.setdefault((key, address), set())
            if len(good) < 10_000:
                good.add(credential)

    def _times(self, key: str, address: str) -> deque[float]:
        if len(self._seen) > 100_000:  # forget everyone rather than grow without bound
            self._seen.clear()
        times = self._seen.setdefault((key, address), deque())
        cutoff = self.clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def _refuse_if_full(self, times: deque[float], what: str, field: str | None, fix: str) -> None:
        if len(times) >= self.attempts:
            wait = max(times[0] + self.window_s - self.clock(), 1.0)
            message = f"{what}; try again in {wait:.0f} s{fix}"
            raise TooMany(message, field=field, retry_after_s=wait)
