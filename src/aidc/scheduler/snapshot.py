"""What the scheduler sees and what it decides. Plain data; no I/O, no clock.

A ``Snapshot`` holds everything one planning pass needs: nodes, what running jobs hold, the
queue, quotas as a cohort tree, decayed usage per project, the policy, and ``now`` (passed in,
never read from a clock, so the same input always gives the same plan). ``Plan`` is the
answer: jobs to admit onto named nodes and devices, jobs to preempt, reservations, and for
every job left waiting a structured explanation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from aidc.core.policy import Policy
from aidc.core.resources import Node, Placement, Request

CPUS = "cpus"
MEMORY = "memory_mib"


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job that holds its placement (admitted, starting or running)."""

    job_id: str
    placement: Placement
    project: str = ""
    priority_class: str = "normal"
    started_at: float = 0.0
    time_limit_s: float = math.inf
    # A stop was requested (preemption or cancel); it holds its placement until it exits.
    stopping: bool = False

    @property
    def ends_by(self) -> float:
        return self.started_at + self.time_limit_s


@dataclass(frozen=True, slots=True, eq=False)
class PendingJob:
    """A queued job. Compared and hashed by identity: immutable, so the same object is the
    same job, and a planner can tell in a few set operations what changed since its last
    pass (``queue_index``)."""

    job_id: str
    request: Request
    submitted_at: float
    project: str = ""
    seq: int = 0
    priority_class: str = "normal"
    nice: int = 0
    # None: the class default from the policy.
    time_limit_s: float | None = None
    # None: the policy's strategy.
    spread: bool | None = None
    same_rack: bool = False


@dataclass(frozen=True, slots=True)
class QuotaLimit:
    """One resource of one project or cohort.

    ``nominal`` is guaranteed. ``borrowing_limit`` caps what may be used beyond the subtree's
    own quota (None: no cap). ``lending_limit`` caps how much of the subtree's unused quota
    others may borrow (None: all of it).
    """

    nominal: float = 0.0
    borrowing_limit: float | None = None
    lending_limit: float | None = None


@dataclass(frozen=True, slots=True)
class QuotaNode:
    """A project (leaf) or a cohort (organisation or program). ``parent`` names a cohort."""

    name: str
    parent: str | None = None
    limits: Mapping[str, QuotaLimit] = field(default_factory=dict)
    # Fair-share weight of a project (its allocation's shares).
    shares: float = 1.0


@dataclass(frozen=True, slots=True)
class Quotas:
    """The cohort tree. Resources are accelerator type names, ``cpus`` and ``memory_mib``.

    A resource no project or cohort has nominal quota for is unmanaged: limited only by
    nodes. A project with no node here sits directly under the root with no quota.
    Capacity of managed resources beyond all nominal quota belongs to the root cohort,
    so any project may borrow it within its limits.
    """

    cohorts: tuple[QuotaNode, ...] = ()
    projects: tuple[QuotaNode, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: tuple[Node, ...]
    running: tuple[RunningJob, ...]
    queue: tuple[PendingJob, ...]
    pool_engines: Mapping[str, str] = field(default_factory=dict)
    quotas: Quotas = field(default_factory=Quotas)
    # Decayed, billing-weighted accelerator-seconds per project.
    usage: Mapping[str, float] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    """Admit ``job_id`` onto ``placement``; ``borrowing`` if it uses quota beyond nominal."""

    job_id: str
    placement: Placement
    borrowing: bool = False
    time_limit_s: float | None = None


@dataclass(frozen=True, slots=True)
class Preemption:
    """Stop ``job_id`` (gracefully, within ``grace_s``) so that ``for_job`` can run."""

    job_id: str
    for_job: str
    reason: str
    grace_s: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """``job_id`` is to start at ``start_at`` on ``nodes``; backfill must not delay it."""

    job_id: str
    start_at: float
    nodes: tuple[str, ...]


class Reason(StrEnum):
    QUOTA = "quota"  # the project's (or cohort's) quota is used up
    CAPACITY = "capacity"  # no free nodes/devices fit it now
    TOPOLOGY = "topology"  # enough free capacity, but not on one rack as asked
    RESERVED = "reserved"  # capacity is held for a higher job's reservation
    PRIORITY = "priority"  # jobs ahead of it come first (fifo without backfill)
    PREEMPTING = "preempting"  # jobs are being stopped to make room for it
    NO_NODES = "no_nodes"  # no node of an acceptable type is up
    # The project's credits are used up (held before the scheduler sees it: services).
    CREDITS = "credits"


class Explanation(NamedTuple):
    """Why a job waits, in numbers, and where it stands. (A named tuple: a long queue has
    one per waiting job, and these are the cheapest to make.)"""

    job_id: str
    reason: Reason
    message: str
    position: int  # 1-based among all pending jobs, in the order the scheduler considers them
    project_position: int  # 1-based among its project's pending jobs
    priority: float  # normalised multifactor priority in [0, 1]
    estimated_start: float | None = None


class Explained:
    """The explanations of every waiting job, worked out on first use and then kept.

    A pass makes its decisions without them; what they need (the order, each group's
    outcome) is kept, and the explanations with their positions are built when someone reads
    them. The controller does so at most once a second, while it may plan many times.
    """

    __slots__ = ("_build", "_done")

    def __init__(
        self, build: tuple[Explanation, ...] | Callable[[], tuple[Explanation, ...]] = ()
    ) -> None:
        self._done: tuple[Explanation, ...] | None = build if isinstance(build, tuple) else None
        self._build = None if isinstance(build, tuple) else build

    def all(self) -> tuple[Explanation, ...]:
        if self._done is None:
            assert self._build is not None
            self._done, self._build = self._build(), None
        return self._done

    def expire(self) -> None:
        """The pass's state they are built from has moved on (the planner's next pass): if
        not built yet, they never will be."""
        if self._done is None:
            self._build = _expired

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Explained) and self.all() == other.all()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Explained({self.all()!r})"


def _expired() -> tuple[Explanation, ...]:
    raise RuntimeError(
        "these explanations expired: a plan's waiting jobs must be read before the same "
        "Planner plans again"
    )


@dataclass(frozen=True, slots=True)
class Plan:
    admit: tuple[Decision, ...] = ()
    preempt: tuple[Preemption, ...] = ()
    reservations: tuple[Reservation, ...] = ()
    explained: Explained = field(default_factory=Explained)

    @property
    def waiting(self) -> tuple[Explanation, ...]:
        """Every job left waiting, in the order the scheduler considered them."""
        return self.explained.all()
