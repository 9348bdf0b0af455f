"""Nodes, pools and what a job asks of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class NodeState(StrEnum):
    UP = "up"
    DRAINED = "drained"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Pool:
    """A group of nodes bound to one engine (``hpc`` -> slurm, ``cloud`` -> ray)."""

    name: str
    engine: str = "local"


@dataclass(frozen=True, slots=True)
class Node:
    """A machine: cpus, memory, and accelerators of one type addressed by device index."""

    name: str
    pool: str
    cpus: int
    memory_mib: int
    accelerator_type: str = "cpu"
    devices: tuple[int, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    state: NodeState = NodeState.UP
    state_reason: str = ""

    @property
    def accelerator_count(self) -> int:
        return len(self.devices)


@dataclass(frozen=True, slots=True)
class Request:
    """Per-node resources of one job, times ``nodes``.

    ``accelerator_type`` None with ``accelerators`` > 0 means any accelerator type.
    """

    nodes: int
    cpus: int
    memory_mib: int
    accelerators: int
    accelerator_type: str | None


@dataclass(frozen=True, slots=True)
class NodePlacement:
    """What a job holds on one node."""

    node: str
    cpus: int
    memory_mib: int
    accelerator_type: str
    devices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the scheduler put a job: one NodePlacement per requested node."""

    pool: str
    nodes: tuple[NodePlacement, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "pool": self.pool,
            "nodes": [
                {
                    "node": n.node,
                    "cpus": n.cpus,
                    "memory_mib": n.memory_mib,
                    "accelerator_type": n.accelerator_type,
                    "devices": list(n.devices),
                }
                for n in self.nodes
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Placement:
        nodes = data["nodes"]
        assert isinstance(nodes, list)
        return cls(
            pool=str(data["pool"]),
            nodes=tuple(
                NodePlacement(
                    node=str(n["node"]),
                    cpus=int(n["cpus"]),
                    memory_mib=int(n["memory_mib"]),
                    accelerator_type=str(n["accelerator_type"]),
                    devices=tuple(int(d) for d in n["devices"]),
                )
                for n in nodes
            ),
        )
