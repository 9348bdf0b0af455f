"""Fair-share usage arithmetic: decay, a run's decayed contribution, a placement's rate.

Usage at ``now`` is the integral over past runs of ``rate * 2^(-(now - t) / h)``, where the
rate is billing weight x devices. Pure: the store (``services.usage``) and the simulator
(``sim.usage``) both count with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aidc.core.accelerators import billing_weight
from aidc.core.resources import Placement


def decay(value: float, dt: float, half_life_s: float) -> float:
    """``value`` as it stands ``dt`` seconds later (a negative dt, from clock skew, is 0)."""
    if dt <= 0 or math.isinf(half_life_s):
        return value
    return value * math.exp(-math.log(2) * dt / half_life_s)


def run_contribution(
    rate: float, start: float, end: float, now: float, half_life_s: float
) -> float:
    """Integral of ``rate * 2^(-(now - t)/h) dt`` from ``start`` to ``end``, as of ``now``.

    Equal to ``rate * h/ln2 * (2^(-(now-end)/h) - 2^(-(now-start)/h))``, written with expm1
    so that short runs long ago keep their precision instead of cancelling to zero.
    """
    end = min(end, now)
    start = min(start, end)
    if rate <= 0 or end <= start:
        return 0.0
    if math.isinf(half_life_s):
        return rate * (end - start)
    k = math.log(2) / half_life_s
    return rate / k * math.exp(-k * (now - end)) * -math.expm1(-k * (end - start))


def placement_rate(placement: Placement | Mapping[str, Any] | None) -> float:
    """Billing-weighted devices a placement holds; a node without devices counts its cores
    at the ``cpu`` weight, so CPU-only runs count too."""
    if placement is None:
        return 0.0
    if isinstance(placement, Placement):
        placement = placement.to_dict()
    rate = 0.0
    nodes: Any = placement.get("nodes", ())
    for n in nodes:
        if n["devices"] and n["accelerator_type"] != "cpu":
            rate += billing_weight(n["accelerator_type"]) * len(n["devices"])
        else:
            rate += billing_weight("cpu") * n["cpus"]
    return rate
