"""A file's chunks streamed with the next one read (and hashed) in a thread while this
one is sent, so that the store's read, the SHA-256 and the socket overlap instead of
taking turns (StreamingResponse alone reads a sync iterator only once a chunk is out)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool

_END = b""


def _next(chunks: Iterator[bytes]) -> bytes:
    for chunk in chunks:
        if chunk:
            return chunk
    return _END


async def read_ahead(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` as an async stream; an error the iterator raises (a checksum that does
    not match) is raised where the stream has got to, cutting it."""
    ahead = asyncio.ensure_future(run_in_threadpool(_next, chunks))
    try:
        while chunk := await ahead:
            ahead = asyncio.ensure_future(run_in_threadpool(_next, chunks))
            yield chunk
    finally:
        if not ahead.done():
            await asyncio.wait([ahead])  # the iterator is not shared between two threads
