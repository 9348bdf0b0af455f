"""Explanations: why a job waits, in the numbers a user can act on."""

from __future__ import annotations

from aidc.core.resources import Request
from aidc.scheduler.placement import Capacity
from aidc.scheduler.snapshot import Reason


def shape(req: Request, accelerator_type: str) -> str:
    """'4 nodes x 8 h100' / '2 a100' / '8 cpus' with the per-node cpus and memory."""
    gib = f"{req.memory_mib / 1024:g} GiB"
    if req.accelerators:
        what, per = f"{req.accelerators} {accelerator_type}", f"{req.cpus} cpus, {gib}"
    else:
        what, per = f"{req.cpus} cpus", gib
    head = f"{req.nodes} nodes x {what}" if req.nodes > 1 else what
    return f"{head} ({per} per node)"


def capacity(
    cap: Capacity,
    req: Request,
    accelerator_type: str,
    same_rack: bool,
    excluded: frozenset[str],
) -> tuple[Reason, str]:
    """Why ``req`` does not fit on ``accelerator_type`` now."""
    want = shape(req, accelerator_type)
    in_rack, in_pool = cap.largest_block(req, accelerator_type, excluded)
    if req.nodes > 1:
        if same_rack and in_pool >= req.nodes:
            return (
                Reason.TOPOLOGY,
                f"needs {want} on one rack; largest free block on one rack is {in_rack} nodes",
            )
        return (
            Reason.CAPACITY,
            f"needs {want}; {in_pool} suitable nodes are free (largest block on one rack: "
            f"{in_rack})",
        )
    if not req.accelerators:
        return Reason.CAPACITY, f"needs {want}; no node has that many cpus and memory free"
    free = cap.free_devices(accelerator_type)
    total = cap.total_devices.get(accelerator_type, 0)
    most = cap.most_free_on_one_node(accelerator_type)
    message = f"needs {want}; {free} of {total} {accelerator_type} free, at most {most} on one node"
    if most >= req.accelerators:
        # Devices are free but cpus or memory beside them are not: say which.
        roomiest = max(
            (
                f
                for f in cap.free.values()
                if f.node.accelerator_type == accelerator_type
                and len(f.devices) >= req.accelerators
                and f.node.name not in excluded
            ),
            key=lambda f: (f.cpus, f.memory_mib),
            default=None,
        )
        if roomiest is not None:
            message += (
                f", but cpus or memory are short there: {roomiest.node.name} has "
                f"{roomiest.cpus} cpus and {roomiest.memory_mib / 1024:g} GiB free"
            )
    return Reason.CAPACITY, message
