"""Where an upload chunk's body goes as it arrives: written to the store and hashed off
the event loop, in batches, so that the loop keeps reading the socket meanwhile.

Each batch is written by one thread and hashed by another at the same time (``os.pwrite``
and ``hashlib`` on buffers this large release the GIL); the next batch waits for both, so
bytes reach the file and the hash in order. Pieces are handed over as they came: no copy.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from aidc.storage.fs import ChunkWriter

BATCH_BYTES = 8 * 1024 * 1024


def _write_all(writer: ChunkWriter, pieces: list[bytes]) -> None:
    for piece in pieces:
        writer.write(piece)


def _hash_all(hasher: Any, pieces: list[bytes]) -> None:
    for piece in pieces:
        hasher.update(piece)


class ChunkSink:
    def __init__(self, writer: ChunkWriter, hasher: Any) -> None:
        self.writer = writer
        self.hasher = hasher  # None: the file is hashed at commit instead
        self._pending: list[bytes] = []
        self._size = 0
        self._busy: asyncio.Future[Any] | None = None

    async def add(self, piece: bytes) -> None:
        self._pending.append(piece)
        self._size += len(piece)
        if self._size >= BATCH_BYTES:
            await self._hand_over()

    async def _hand_over(self) -> None:
        if self._busy is not None:
            await self._busy
            self._busy = None
        batch, self._pending, self._size = self._pending, [], 0
        if not batch:
            return
        work = [run_in_threadpool(_write_all, self.writer, batch)]
        if self.hasher is not None:
            work.append(run_in_threadpool(_hash_all, self.hasher, batch))
        self._busy = asyncio.gather(*work)

    async def close(self) -> None:
        """Write what is left, then close the writer (an object store's chunk is sent
        there), whatever happened before."""
        try:
            await self._hand_over()
            if self._busy is not None:
                await self._busy
        finally:
            if self._busy is not None and not self._busy.done():
                await asyncio.wait([self._busy])  # never close under a running write
            await run_in_threadpool(self.writer.close)

    async def abandon(self) -> None:
        """The body was refused midway: let a running batch finish, then close."""
        if self._busy is not None:
            await asyncio.wait([self._busy])
        await run_in_threadpool(self.writer.close)
