"""What the scheduler sees: nodes, what running jobs hold, and the queue in order."""

from __future__ import annotations

from dataclasses import dataclass

from aidc.core.resources import Node, Placement, Request


@dataclass(frozen=True, slots=True)
class RunningJob:
    job_id: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class PendingJob:
    job_id: str
    request: Request
    submitted_at: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Pools' engines, nodes, placed jobs, and queued jobs in submission order."""

    nodes: tuple[Node, ...]
    running: tuple[RunningJob, ...]
    queue: tuple[PendingJob, ...]
    pool_engines: dict[str, str]


@dataclass(frozen=True, slots=True)
class Decision:
    """Admit ``job_id`` onto ``placement``."""

    job_id: str
    placement: Placement
