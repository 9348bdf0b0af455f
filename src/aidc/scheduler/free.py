"""Free capacity per node, derived from the nodes and what placed jobs hold."""

from __future__ import annotations

from dataclasses import dataclass, field

from aidc.core.resources import Node, NodePlacement, NodeState, Request
from aidc.scheduler.snapshot import RunningJob


@dataclass(slots=True)
class FreeNode:
    node: Node
    cpus: int
    memory_mib: int
    devices: list[int] = field(default_factory=list)

    def fits(self, req: Request) -> bool:
        if self.node.state is not NodeState.UP:
            return False
        if not req.accepts(self.node.accelerator_type):
            return False
        return (
            self.cpus >= req.cpus
            and self.memory_mib >= req.memory_mib
            and len(self.devices) >= req.accelerators
        )

    def take(self, req: Request) -> NodePlacement:
        devices = tuple(self.devices[: req.accelerators])
        del self.devices[: req.accelerators]
        self.cpus -= req.cpus
        self.memory_mib -= req.memory_mib
        return NodePlacement(
            node=self.node.name,
            cpus=req.cpus,
            memory_mib=req.memory_mib,
            accelerator_type=self.node.accelerator_type,
            devices=devices,
        )


def free_capacity(nodes: tuple[Node, ...], running: tuple[RunningJob, ...]) -> dict[str, FreeNode]:
    """Each node's capacity minus what placed jobs hold on it."""
    free = {n.name: FreeNode(n, n.cpus, n.memory_mib, sorted(n.devices)) for n in nodes}
    for job in running:
        for held in job.placement.nodes:
            f = free.get(held.node)
            if f is None:
                continue  # a node removed from the inventory while a job still ran there
            f.cpus -= held.cpus
            f.memory_mib -= held.memory_mib
            f.devices = [d for d in f.devices if d not in held.devices]
    return free
