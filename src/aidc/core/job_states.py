"""The job state machine: the one module that owns every transition.

    QUEUED -> ADMITTED -> STARTING -> RUNNING -> SUCCEEDED | FAILED | CANCELLED | LOST
    RUNNING -> PREEMPTED -> QUEUED

A job can also be cancelled before it runs (QUEUED, ADMITTED, STARTING, PREEMPTED), fail or
be lost while starting, and go back from ADMITTED to QUEUED when its placement is withdrawn,
or from STARTING to QUEUED when its engine could not be reached to launch it.
SUCCEEDED, FAILED, CANCELLED and LOST are terminal: a finished job never changes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "QUEUED"
    ADMITTED = "ADMITTED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    PREEMPTED = "PREEMPTED"
    LOST = "LOST"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def holds_resources(self) -> bool:
        """Whether a job in this state occupies its placement."""
        return self in (JobState.ADMITTED, JobState.STARTING, JobState.RUNNING)


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST})

ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.ADMITTED, JobState.CANCELLED}),
    JobState.ADMITTED: frozenset({JobState.STARTING, JobState.QUEUED, JobState.CANCELLED}),
    JobState.STARTING: frozenset(
        {JobState.RUNNING, JobState.FAILED, JobState.CANCELLED, JobState.LOST, JobState.QUEUED}
    ),
    JobState.RUNNING: frozenset(
        {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST, JobState.PREEMPTED}
    ),
    JobState.PREEMPTED: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.LOST: frozenset(),
}


class IllegalTransition(Exception):
    """A transition the state machine refuses."""

    def __init__(self, current: JobState, target: JobState) -> None:
        if current.is_terminal:
            why = f"job already finished as {current}; a finished job never changes"
        else:
            allowed = ", ".join(sorted(ALLOWED[current])) or "nothing"
            why = f"{current} can only move to {allowed}"
        super().__init__(f"illegal transition {current} -> {target}: {why}")
        self.current = current
        self.target = target


@dataclass(frozen=True, slots=True)
class Transition:
    """One accepted change of state, with when and why (recorded in the job's history)."""

    source: JobState
    target: JobState
    at: float
    reason: str


def transition(current: JobState, target: JobState, *, at: float, reason: str) -> Transition:
    """Validate ``current -> target``; raises IllegalTransition if the machine forbids it."""
    if target not in ALLOWED[current]:
        raise IllegalTransition(current, target)
    return Transition(current, target, at, reason)
