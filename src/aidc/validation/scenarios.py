"""The timed loops: warm-up, single-stream, the offline search and run, the accuracy pass.

Inputs are sliced into batches before any clock starts (views of the dataset, a copy only
where a batch wraps around its end), so a timed loop does nothing but call the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from aidc.core import validation_stats as stats

Run = Callable[[npt.NDArray[Any]], Any]
NS = 1_000_000_000
MIN_STEP_BATCHES = 3


def batches(inputs: npt.NDArray[Any], batch: int) -> list[npt.NDArray[Any]]:
    """The dataset as consecutive batches of ``batch`` samples, the last one wrapping around."""
    n = inputs.shape[0]
    out = []
    for start in range(0, n, batch):
        if start + batch <= n:
            out.append(inputs[start : start + batch])
        else:
            out.append(np.take(inputs, np.arange(start, start + batch) % n, axis=0))
    return out


def run_for(
    run: Run, work: list[npt.NDArray[Any]], min_s: float, min_calls: int
) -> tuple[int, int]:
    """Call ``run`` over ``work`` cyclically for at least ``min_s`` and ``min_calls``.

    Returns (calls, nanoseconds from the first call's start to the last one's end).
    """
    min_ns, calls, n = int(min_s * NS), 0, len(work)
    t0 = time.perf_counter_ns()
    while True:
        run(work[calls % n])
        calls += 1
        elapsed = time.perf_counter_ns() - t0
        if calls >= min_calls and elapsed >= min_ns:
            return calls, elapsed


def single_stream(run: Run, inputs: npt.NDArray[Any], min_queries: int, min_s: float) -> list[int]:
    """Every query's latency in nanoseconds, one sample per query, until both minimums hold."""
    queries = batches(inputs, 1)
    latencies: list[int] = []
    min_ns, n, clock = int(min_s * NS), len(queries), time.perf_counter_ns
    start = clock()
    while len(latencies) < min_queries or clock() - start < min_ns:
        q = queries[len(latencies) % n]
        t0 = clock()
        run(q)
        latencies.append(clock() - t0)
    return latencies


@dataclass
class Offline:
    batch: int
    samples: int
    seconds: float
    search: list[dict[str, float]] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.samples / self.seconds


def search(
    run: Run, inputs: npt.NDArray[Any], max_batch: int, fixed: int | None, step_s: float
) -> list[tuple[int, float]]:
    """Throughput at each batch size the bounded search (core.validation_stats) asks for."""
    tried: list[tuple[int, float]] = []
    if fixed is not None:
        calls, ns = run_for(run, batches(inputs, fixed), step_s, MIN_STEP_BATCHES)
        return [(fixed, calls * fixed * NS / ns)]
    while (b := stats.next_batch(tried, max_batch)) is not None:
        calls, ns = run_for(run, batches(inputs, b), step_s, MIN_STEP_BATCHES)
        tried.append((b, calls * b * NS / ns))
    return tried


def offline_run(
    run: Run, inputs: npt.NDArray[Any], batch: int, min_samples: int, min_s: float
) -> tuple[int, float]:
    """(samples, seconds) of the timed run at ``batch``."""
    calls, ns = run_for(run, batches(inputs, batch), min_s, -(-min_samples // batch))
    return calls * batch, ns / NS


def score_all(run: Run, inputs: npt.NDArray[Any], batch: int, fixed: bool) -> npt.NDArray[Any]:
    """The scores of every sample once, ``batch`` at a time.

    With a fixed batch axis the last batch is padded with samples from the start and the
    padding's scores are dropped.
    """
    n, parts = inputs.shape[0], []
    for start in range(0, n, batch):
        chunk = inputs[start : start + batch]
        real = chunk.shape[0]
        if fixed and real < batch:
            chunk = np.take(inputs, np.arange(start, start + batch) % n, axis=0)
        scores = np.asarray(run(chunk))
        if scores.ndim != 2 or scores.shape[0] != chunk.shape[0]:
            raise ValueError(
                f"the model's first output has shape {list(scores.shape)} for a batch of "
                f"{chunk.shape[0]}; the harness needs scores of shape [batch, classes]"
            )
        parts.append(scores[:real])
    return np.concatenate(parts)
