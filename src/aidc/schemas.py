"""What the API returns and the client parses: plain pydantic models, no I/O."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aidc.core.job_states import JobState


class ProjectView(BaseModel):
    name: str
    organisation: str


class WhoAmI(BaseModel):
    username: str
    organisation: str
    organisation_kind: str
    role: str
    projects: list[ProjectView]


class JobView(BaseModel):
    id: str
    name: str | None
    project: str
    user: str
    state: JobState
    state_reason: str
    spec: dict[str, Any]
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    placement: dict[str, Any] | None
    queue_position: int | None
    cancel_requested: bool
    # Runs so far (1 after the first launch; more after requeues) and what preemption cost.
    attempt: int = 0
    preemptions: int = 0
    lost_accelerator_seconds: float = 0.0
    # Told to stop (preempted or cancelled) and not ended yet.
    stopping: bool = False


class EventView(BaseModel):
    at: float
    from_state: JobState | None
    to_state: JobState
    reason: str
    actor: str | None


class NodeView(BaseModel):
    name: str
    pool: str
    engine: str
    state: str
    state_reason: str
    cpus: int
    cpus_used: int
    memory_mib: int
    memory_mib_used: int
    accelerator_type: str
    accelerators: int
    accelerators_used: int
    free_devices: list[int]
    labels: dict[str, str]


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API answers: a message for people, and the fields at fault."""

    error: str
    message: str
    fields: list[ErrorField] = []
