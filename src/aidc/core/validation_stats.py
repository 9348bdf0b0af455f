"""The validation harness's arithmetic: latency percentiles, accuracy, the offline batch choice.

Pure (no I/O, no clock): the harness measures, this module decides what the measurements
mean, so that anyone holding a RESULT.json can recompute its numbers.

- Percentiles are nearest-rank (MLPerf's and the contract's rule): the p-th percentile of n
  values is the value at rank ceil(p/100 * n) of the sorted list (rank 1 for p = 0). The rank
  is computed in exact decimal arithmetic, so 99.9 over 1,000 values is rank 999, never 1,000.
- Top-k: a sample is correct when its label is among the k highest scores. Ties are broken
  by the lower class index (what ``numpy.argmax`` and a stable sort of ``-scores`` do), so
  top-1 equals ``argmax(scores) == label``.
- The offline batch search doubles the batch from 1 up to a limit and stops as soon as a step
  fails to improve the best throughput so far by at least ``MIN_GAIN`` (5 %); the best
  throughput seen wins, the smaller batch on a tie.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

MIN_GAIN = 0.05


def percentile_rank(p: float, n: int) -> int:
    """The 1-based nearest rank of the p-th percentile among n values."""
    if n < 1:
        raise ValueError("a percentile needs at least one value")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not between 0 and 100")
    # Decimal(str(p)) is the number as written (99.9, not 99.900000000000005684...).
    rank = math.ceil(Decimal(str(p)) * n / 100)
    return max(1, rank)


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile of ``values``."""
    ordered = sorted(values)
    return ordered[percentile_rank(p, len(ordered)) - 1]


def percentiles(values: Sequence[float], ps: Iterable[float]) -> dict[float, float]:
    """Several nearest-rank percentiles, sorting once."""
    ordered = sorted(values)
    return {p: ordered[percentile_rank(p, len(ordered)) - 1] for p in ps}


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("a mean needs at least one value")
    return math.fsum(values) / len(values)


def label_ranks(
    scores: npt.NDArray[np.floating], labels: npt.NDArray[np.integer]
) -> npt.NDArray[np.int64]:
    """Each sample's 0-based rank of its label among its scores (0 = the top class).

    ``scores`` is [samples, classes], ``labels`` [samples]. Rank = classes that score higher,
    plus classes of a lower index that score the same.
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be [samples, classes], not of shape {scores.shape}")
    if labels.shape != (scores.shape[0],):
        raise ValueError(f"labels of shape {labels.shape} do not match {scores.shape[0]} samples")
    classes = scores.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"a label is outside 0..{classes - 1}")
    rows = np.arange(scores.shape[0])
    own = scores[rows, labels][:, None]
    lower = np.arange(classes)[None, :] < labels[:, None]
    beaten_by = (scores > own) | ((scores == own) & lower)
    ranks: npt.NDArray[np.int64] = beaten_by.sum(axis=1, dtype=np.int64)
    return ranks


def top_k_correct(ranks: npt.NDArray[np.int64], k: int) -> int:
    """How many samples have their label among the top k (from ``label_ranks``)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    return int(np.count_nonzero(ranks < k))


@dataclass(frozen=True, slots=True)
class Accuracy:
    correct: int
    samples: int

    @property
    def value(self) -> float:
        return self.correct / self.samples if self.samples else 0.0


def top_k_accuracy(
    scores: npt.NDArray[np.floating], labels: npt.NDArray[np.integer], k: int
) -> Accuracy:
    return Accuracy(top_k_correct(label_ranks(scores, labels), k), int(labels.shape[0]))


# -- the offline scenario's bounded batch search ------------------------------------------


def batch_candidates(max_batch: int) -> list[int]:
    """1, 2, 4, ... up to ``max_batch``, which is tried last even when not a power of two."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    out = [1]
    while out[-1] * 2 <= max_batch:
        out.append(out[-1] * 2)
    if out[-1] != max_batch:
        out.append(max_batch)
    return out


def next_batch(
    tried: Sequence[tuple[int, float]], max_batch: int, min_gain: float = MIN_GAIN
) -> int | None:
    """The next batch size to measure given ``(batch, throughput)`` so far, or None to stop.

    Stops after the last candidate, or when the latest step did not beat the best throughput
    before it by at least ``min_gain`` (larger batches only add latency and memory then).
    """
    candidates = batch_candidates(max_batch)
    if not tried:
        return candidates[0]
    if len(tried) >= 2:
        best_before = max(t for _, t in tried[:-1])
        if tried[-1][1] < best_before * (1 + min_gain):
            return None
    last = tried[-1][0]
    later = [b for b in candidates if b > last]
    return later[0] if later else None


def best_batch(tried: Sequence[tuple[int, float]]) -> int:
    """The batch with the highest throughput; the smaller one on a tie."""
    if not tried:
        raise ValueError("no batch size was measured")
    return min(tried, key=lambda bt: (-bt[1], bt[0]))[0]
