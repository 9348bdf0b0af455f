"""Where experiments find trace formats and clusters: ``aidc.sim.traces.FORMATS`` and
``aidc.sim.presets`` (branch sim-loaders). Until that branch is merged, a minimal stand-in:
the two loaders of ``aidc.sim.traces`` and two clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aidc.core.resources import Node
from aidc.scheduler import Quotas
from aidc.sim import traces
from aidc.sim.driver import SimJob
from aidc.sim.limits import LimitModel
from aidc.sim.traces import NodeShape, TraceError

Loader = Callable[[Path, NodeShape, LimitModel | None], Iterator[SimJob]]
FORMATS: dict[str, Loader] = {"tiresias": traces.tiresias, "philly-csv": traces.philly_csv}


@dataclass(frozen=True, slots=True)
class SimCluster:
    name: str
    nodes: tuple[Node, ...]
    quotas: Quotas
    shape: NodeShape
    description: str = ""


def _cluster(name: str, count: int, per: int, description: str) -> SimCluster:
    shape = NodeShape(accelerators=per)
    nodes = tuple(
        Node(
            f"{name}-{i}",
            "gpu",
            per * shape.cpus_per_accelerator,
            per * shape.memory_mib_per_accelerator,
            shape.accelerator_type,
            tuple(range(per)),
            {"pool": "gpu", "rack": f"r{i // 8}"},
        )
        for i in range(count)
    )
    return SimCluster(name, nodes, Quotas(), shape, description)


PRESETS: dict[str, Callable[[], SimCluster]] = {
    "tiresias": lambda: _cluster("tiresias", 16, 4, "16 nodes x 4 a100 (the Tiresias paper)"),
    "small": lambda: _cluster("small", 2, 4, "2 nodes x 4 a100"),
}


def load_cluster(name_or_file: str) -> SimCluster:
    try:
        return PRESETS[name_or_file]()
    except KeyError:
        raise ValueError(
            f"unknown cluster {name_or_file!r}; use one of {', '.join(PRESETS)}"
        ) from None


__all__ = ["FORMATS", "PRESETS", "SimCluster", "TraceError", "load_cluster"]
