"""BatchedThread: pieces reach the work whole and in order; the work's error comes out;
leaving the block waits for the batch in flight."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aidc.batched_thread import BatchedThread


@given(st.lists(st.binary(max_size=64), max_size=50), st.integers(1, 100))
def test_every_piece_reaches_the_work_in_order(pieces: list[bytes], batch: int) -> None:
    got: list[bytes] = []
    with BatchedThread(got.append, "test", batch=batch) as w:
        for p in pieces:
            w.add(p)
    assert got == pieces


def test_the_works_error_comes_out_and_nothing_runs_after_the_block() -> None:
    calls: list[bytes] = []

    def work(piece: bytes) -> None:
        calls.append(piece)
        if piece == b"bad":
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), BatchedThread(work, "test", batch=1) as w:
        for p in (b"a", b"bad", b"c", b"d"):
            w.add(p)
    assert calls[:2] == [b"a", b"bad"] and b"d" not in calls


def test_leaving_by_an_error_waits_for_the_batch_in_flight() -> None:
    done = threading.Event()

    def slow(piece: bytes) -> None:
        time.sleep(0.2)
        done.set()

    with pytest.raises(RuntimeError), BatchedThread(slow, "test", batch=1) as w:
        w.add(b"x")
        raise RuntimeError("the stream was cut")
    assert done.is_set()
