"""Work on a stream's pieces in a thread of its own, a batch at a time, while the caller
receives the next ones: hashlib and file writes release the GIL on big buffers, so a
download's SHA-256 and its write to disk overlap its socket reads instead of taking turns.
Pieces reach the work in the order they were added."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

BATCH = 8 * 1024 * 1024


def _each(work: Callable[[bytes], object], pieces: list[bytes]) -> None:
    for piece in pieces:
        work(piece)


class BatchedThread:
    """``with BatchedThread(f.write) as w: w.add(piece)``. An error the work raised comes
    out of the next ``add`` or at the end; leaving the block, by error or not, waits for
    the batch in flight, so nothing works on a closed file afterwards."""

    def __init__(self, work: Callable[[bytes], object], name: str, batch: int = BATCH) -> None:
        self._work = work
        self._batch = batch
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: list[bytes] = []
        self._size = 0
        self._busy: Future[None] | None = None

    def add(self, piece: bytes) -> None:
        self._pending.append(piece)
        self._size += len(piece)
        if self._size >= self._batch:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._busy is not None:
            self._busy.result()
            self._busy = None
        batch, self._pending, self._size = self._pending, [], 0
        if batch:
            self._busy = self._pool.submit(_each, self._work, batch)

    def finish(self) -> None:
        """Hand over what is left and wait until all of it is done."""
        self._hand_over()
        if self._busy is not None:
            self._busy.result()
            self._busy = None

    def __enter__(self) -> BatchedThread:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self.finish()
        finally:
            self._pool.shutdown(wait=True)  # a batch in flight ends before the caller goes on
