"""Free capacity per node, derived from the nodes and what placed jobs hold."""

from __future__ import annotations

from dataclasses import dataclass, field

from aidc.core.resources import Node, NodePlacement, NodeState, Placement, Request
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

    def hold(self, held: NodePlacement) -> None:
        """Account for what a placed job holds here."""
        self.cpus -= held.cpus
        self.memory_mib -= held.memory_mib
        gone = held.devices  # a handful: a tuple is as quick to search as a set
        if gone:
            self.devices = [d for d in self.devices if d not in gone]

    def release(self, held: NodePlacement) -> None:
        """Give back what a job held here (it ended, or a what-if removes it)."""
        self.cpus += held.cpus
        self.memory_mib += held.memory_mib
        if held.devices:
            self.devices = sorted(set(self.devices) | set(held.devices))


def free_capacity(nodes: tuple[Node, ...], running: tuple[RunningJob, ...]) -> dict[str, FreeNode]:
    """Each node's capacity minus what placed jobs hold on it."""
    free = {n.name: FreeNode(n, n.cpus, n.memory_mib, sorted(n.devices)) for n in nodes}
    for job in running:
        for held in job.placement.nodes:
            f = free.get(held.node)
            if f is not None:  # None: a node removed from the inventory while a job still ran
                f.hold(held)
    return free


def placement_nodes(p: Placement) -> tuple[str, ...]:
    return tuple(n.node for n in p.nodes)
