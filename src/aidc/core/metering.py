"""The ledger's arithmetic: metered periods split at UTC midnights, and what a placement
or a pool uses of each accelerator type over a period. Pure; the store side is
``services.metering``.

Units: accelerator-seconds are devices x seconds (for the ``cpu`` type, which stands for one
core, cores x seconds), PF-hours are accelerator-hours x the type's peak petaflops, and
weighted seconds are billing weight x devices x seconds (what fair share counts, exactly
as ``usage_math.placement_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aidc.core.accelerators import CATALOG, billing_weight
from aidc.core.resources import Node, NodeState, Placement

DAY_S = 86_400.0
CPU = "cpu"


def day_periods(start: float, end: float) -> list[tuple[float, float]]:
    """``[start, end)`` cut at every UTC midnight in between (POSIX time has no leap
    seconds, so midnights are the multiples of 86,400). Empty when ``end <= start``."""
    out: list[tuple[float, float]] = []
    t = start
    while t < end:
        midnight = (math.floor(t / DAY_S) + 1) * DAY_S
        cut = min(midnight, end)
        out.append((t, cut))
        t = cut
    return out


@dataclass(frozen=True, slots=True)
class TypeShare:
    """What a run holds of one accelerator type: devices (cores for ``cpu``), and the cpus
    and memory of the nodes it holds them on."""

    accelerator_type: str
    devices: int
    cpus: int
    memory_mib: int

    @property
    def rate(self) -> float:
        """Billing-weighted devices: fair share's rate."""
        return billing_weight(self.accelerator_type) * self.devices


@dataclass(frozen=True, slots=True)
class Amounts:
    accelerator_seconds: float
    cpu_seconds: float
    memory_gb_seconds: float
    pf_hours: float
    weighted_seconds: float


def shares(placement: Placement | Mapping[str, Any]) -> list[TypeShare]:
    """A placement per accelerator type, in name order. A node where the run holds no
    devices (a CPU-only run, even on a GPU node) counts its cores as the ``cpu`` type, as
    ``usage_math.placement_rate`` does, so the rates of the shares sum to that rate."""
    if isinstance(placement, Placement):
        placement = placement.to_dict()
    acc: dict[str, list[int]] = {}
    nodes: Any = placement.get("nodes", ())
    for n in nodes:
        kind = str(n["accelerator_type"])
        cpus, memory = int(n["cpus"]), int(n["memory_mib"])
        if n["devices"] and kind != CPU:
            devices = len(n["devices"])
        else:
            kind, devices = CPU, cpus
        total = acc.setdefault(kind, [0, 0, 0])
        total[0] += devices
        total[1] += cpus
        total[2] += memory
    return [TypeShare(k, v[0], v[1], v[2]) for k, v in sorted(acc.items())]


def amounts(share: TypeShare, seconds: float) -> Amounts:
    """What ``share`` uses in ``seconds``."""
    t = CATALOG.get(share.accelerator_type)
    peak_pf = t.peak_pf if t is not None else 0.0
    return Amounts(
        accelerator_seconds=share.devices * seconds,
        cpu_seconds=share.cpus * seconds,
        memory_gb_seconds=share.memory_mib / 1024 * seconds,
        pf_hours=share.devices * seconds / 3600 * peak_pf,
        weighted_seconds=share.rate * seconds,
    )


@dataclass(frozen=True, slots=True)
class PoolCapacity:
    """Devices of one type in one pool: all of them, and those on nodes that are UP."""

    pool: str
    accelerator_type: str
    devices_total: int
    devices_up: int

    def pf_hours_up(self, seconds: float) -> float:
        t = CATALOG.get(self.accelerator_type)
        return self.devices_up * seconds / 3600 * (t.peak_pf if t is not None else 0.0)


def capacity(nodes: Iterable[Node]) -> list[PoolCapacity]:
    """Capacity per pool and type. A node without accelerators counts its cores as the
    ``cpu`` type (a CPU partition); the cores of accelerator nodes are not counted there."""
    acc: dict[tuple[str, str], list[int]] = {}
    for n in nodes:
        if n.devices and n.accelerator_type != CPU:
            kind, devices = n.accelerator_type, len(n.devices)
        else:
            kind, devices = CPU, n.cpus
        total = acc.setdefault((n.pool, kind), [0, 0])
        total[0] += devices
        if n.state is NodeState.UP:
            total[1] += devices
    return [PoolCapacity(p, k, v[0], v[1]) for (p, k), v in sorted(acc.items())]
