"""What the scheduler is told about a job's run time: a time limit typed the way users do.

A trace records how long each job really ran; users ask for more, and in round numbers. The
limit is ``duration x f`` with an overestimate factor ``f`` drawn per job (lognormal, median
3 by default, never below 1) from a seeded generator, rounded up to the next bucket (30 min,
1 h, 2 h, 4 h, 8 h, 12 h, 1 d, 2 d, 3 d, 7 d; past the last, the duration x f itself). A
constant factor would hand backfill and sjf the true order of durations, so it is not the
default; ``oracle`` gives the true duration, to reproduce published SJF/SRTF baselines.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

HOUR = 3600.0
BUCKETS_S: tuple[float, ...] = (
    0.5 * HOUR,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    12 * HOUR,
    24 * HOUR,
    48 * HOUR,
    72 * HOUR,
    168 * HOUR,
)


@dataclass(frozen=True, slots=True)
class LimitModel:
    """How time limits are made from true durations; ``limit_for`` draws from ``seed``."""

    seed: int = 0
    median_factor: float = 3.0
    sigma: float = 1.0  # of log(factor)
    buckets_s: Sequence[float] = BUCKETS_S
    oracle: bool = False

    def limits(self) -> LimitDrawer:
        return LimitDrawer(self)


class LimitDrawer:
    """Draws one limit per job, in trace order: the same model and trace, the same limits."""

    def __init__(self, model: LimitModel) -> None:
        self.model = model
        self._rng = random.Random(model.seed)

    def limit_for(self, duration_s: float) -> float:
        m = self.model
        if m.oracle:
            return duration_s
        factor = max(1.0, m.median_factor * math.exp(self._rng.gauss(0.0, m.sigma)))
        wanted = duration_s * factor
        return next((b for b in m.buckets_s if b >= wanted), wanted)
