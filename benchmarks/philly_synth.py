"""A Philly-shaped synthetic trace, written as Philly's flattened CSV (never shipped).

Drawn from a seeded ``random.Random`` to the shape of the public Philly job list as
``../shared/traces/README.md`` gives it:

* GPUs per job: 1: 93.2 %, 2: 2.2 %, 4: 2.3 %, 8: 2.0 %, 16: 0.24 %, 32: 0.08 %, 64 and
  128: 0.01 % each;
* duration: lognormal with Philly's median (1,144 s) and p90 (11,266 s), i.e. sigma =
  ln(11266 / 1144) / 1.2816 = 1.785, for 99.3 % of jobs; the rest log-uniform between 1
  and 53 days (Philly's maximum), the heavy tail that brings the mean near Philly's
  13,136 s (a lognormal alone gives about 5,600 s);
* tenants: 15 virtual clusters, the 11 the ``philly`` preset names and 4 without quota;
  the largest (6214e9) submits half of all jobs, the others Zipf-like (1/rank);
* submissions: a Poisson process over ``days`` (Philly: ~82,000 jobs in about 75 days).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from pathlib import Path

SIZES = (1, 2, 4, 8, 16, 32, 64, 128)
SIZE_WEIGHTS = (93.2, 2.2, 2.3, 2.0, 0.24, 0.08, 0.01, 0.01)
MEDIAN_S, P90_S, MAX_S = 1144.0, 11266.0, 53 * 86400.0
SIGMA = math.log(P90_S / MEDIAN_S) / 1.2816
TAIL_FRACTION = 0.007
TENANTS = (
    "6214e9",
    "b436b2",
    "ee9e8c",
    "7f04ca",
    "6c71a0",
    "0e4a51",
    "11cb48",
    "e13805",
    "2869ce",
    "ed69ec",
    "103959",
    "vc-12",
    "vc-13",
    "vc-14",
    "vc-15",
)
START = dt.datetime(2017, 10, 1, tzinfo=dt.UTC)


def tenant_weights() -> list[float]:
    rest = [1 / r for r in range(2, len(TENANTS) + 1)]
    return [0.5] + [0.5 * w / sum(rest) for w in rest]


def write(path: Path, jobs: int, days: float = 75.0, seed: int = 1) -> Path:
    """Write ``jobs`` rows of ``timestamp,duration,num_gpus,gpu_time,cluster`` to ``path``."""
    rng = random.Random(seed)
    weights = tenant_weights()
    rate = jobs / (days * 86400.0)
    t = 0.0
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "duration", "num_gpus", "gpu_time", "cluster"])
        for _ in range(jobs):
            t += rng.expovariate(rate)
            if rng.random() < TAIL_FRACTION:
                duration = math.exp(rng.uniform(math.log(86400.0), math.log(MAX_S)))
            else:
                duration = min(MAX_S, MEDIAN_S * math.exp(rng.gauss(0.0, SIGMA)))
            duration = max(1.0, round(duration))
            gpus = rng.choices(SIZES, SIZE_WEIGHTS)[0]
            when = START + dt.timedelta(seconds=int(t))
            out.writerow(
                [
                    when.strftime("%Y-%m-%d %H:%M:%S"),
                    int(duration),
                    gpus,
                    int(duration) * gpus,
                    rng.choices(TENANTS, weights)[0],
                ]
            )
    return path
