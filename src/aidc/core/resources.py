"""Nodes, pools and what a job asks of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from aidc.core import accelerators


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

    ``accelerator_types`` lists the acceptable types (empty: any type); with
    ``min_accelerator_memory_gb`` only types with at least that much memory per device do.
    """

    nodes: int
    cpus: int
    memory_mib: int
    accelerators: int
    accelerator_types: tuple[str, ...] = ()
    min_accelerator_memory_gb: float = 0.0
    # Requests key the scheduler's caches: the hash is worked out once.
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_hash",
            hash(
                (
                    self.nodes,
                    self.cpus,
                    self.memory_mib,
                    self.accelerators,
                    self.accelerator_types,
                    self.min_accelerator_memory_gb,
                )
            ),
        )

    def __hash__(self) -> int:
        return self._hash

    @property
    def accelerator_type(self) -> str | None:
        """The one type asked for, if exactly one was."""
        return self.accelerator_types[0] if len(self.accelerator_types) == 1 else None

    def accepts(self, accelerator_type: str) -> bool:
        """Whether a node with accelerators of ``accelerator_type`` can serve this request."""
        if not self.accelerators:
            return True
        if accelerator_type == "cpu":
            return False
        if self.accelerator_types and accelerator_type not in self.accelerator_types:
            return False
        if self.min_accelerator_memory_gb:
            return accelerators.memory_gb(accelerator_type) >= self.min_accelerator_memory_gb
        return True


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
