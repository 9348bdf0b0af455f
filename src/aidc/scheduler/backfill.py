"""Backfill: reservations for blocked jobs, and which nodes later jobs must leave alone.

EASY backfill: the highest-priority job that does not fit gets a reservation, the earliest
time its placement frees up as running jobs reach their time limits, on named nodes. A later
job may start now only if it ends before every reservation it would touch (by its time
limit), or keeps off the reserved nodes. ``reservations`` in the policy allows more than one
reserved job (towards conservative backfill). With backfill off, a blocked job fences every
node it could use, so nothing behind it passes it there: strict order per partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from aidc.core.resources import Placement, Request
from aidc.scheduler.placement import Capacity
from aidc.scheduler.snapshot import Reservation


@dataclass(slots=True)
class Blocks:
    """Reservations and fences made so far in one pass."""

    reservations: list[Reservation] = field(default_factory=list)
    fences: dict[str, frozenset[str]] = field(default_factory=dict)  # job_id -> nodes
    # Every fenced node, kept as fences come so a lookup never rebuilds it.
    fenced: frozenset[str] = frozenset()
    # How often ``fenced`` grew: a fence inside it changes no answer of a later lookup.
    growth: int = 0
    _cache: dict[tuple[bool, ...], frozenset[str]] = field(default_factory=dict)

    def add_reservation(self, r: Reservation) -> None:
        self.reservations.append(r)
        self._cache.clear()

    def add_fence(self, job_id: str, nodes: frozenset[str]) -> None:
        self.fences[job_id] = nodes
        if not nodes <= self.fenced:
            self.fenced = self.fenced | nodes
            self.growth += 1
            self._cache.clear()

    def reserved_nodes(self) -> frozenset[str]:
        return frozenset(n for r in self.reservations for n in r.nodes)

    def excluded_for(self, ends_at: float) -> frozenset[str]:
        """Nodes a job ending at ``ends_at`` must not use."""
        if not self.reservations:
            return self.fenced
        key = tuple([ends_at > r.start_at for r in self.reservations])
        hit = self._cache.get(key)
        if hit is None:
            nodes: set[str] = set(self.fenced)
            for r, touches in zip(self.reservations, key, strict=True):
                if touches:
                    nodes.update(r.nodes)
            hit = self._cache[key] = frozenset(nodes)
        return hit

    def alike_until(self, ends_at: float) -> float:
        """A job ending after the returned time must keep off every node that one ending at
        ``ends_at`` must (-inf: any job must)."""
        return max(
            (r.start_at for r in self.reservations if ends_at > r.start_at), default=-math.inf
        )

    def holder(self, node: str) -> Reservation | None:
        for r in self.reservations:
            if node in r.nodes:
                return r
        return None

    def fence_holder(self, nodes: frozenset[str]) -> str | None:
        for job_id, fenced in self.fences.items():
            if fenced & nodes:
                return job_id
        return None


def earliest_start(
    cap: Capacity,
    job_id: str,
    req: Request,
    accelerator_type: str,
    releases: list[tuple[float, Placement]],
    now: float,
    *,
    spread: bool,
    same_rack: bool,
    excluded: frozenset[str],
) -> Reservation | None:
    """When and where ``req`` fits as running jobs end (``releases``: end time, placement)."""
    trial = cap.clone()
    need = req.nodes * req.accelerators
    for end, placement in sorted(releases, key=lambda e: e[0]):
        if math.isinf(end):
            break
        if req.accelerators and not any(
            n.accelerator_type == accelerator_type for n in placement.nodes
        ):
            continue
        trial.release(placement)
        if req.accelerators and trial.free_devices(accelerator_type) < need:
            continue
        p = trial.place(
            req,
            accelerator_type,
            spread=spread,
            same_rack=same_rack,
            excluded=excluded,
            commit=False,
        )
        if p is not None:
            return Reservation(job_id, max(now, end), tuple(n.node for n in p.nodes))
    return None
