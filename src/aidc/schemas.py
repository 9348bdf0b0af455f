"""What the API returns and the client parses: plain pydantic models, no I/O."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aidc.core.job_states import JobState
from aidc.core.policy_text import MAX_TEXT_BYTES


class ProjectView(BaseModel):
    name: str
    organisation: str


class WhoAmI(BaseModel):
    username: str
    organisation: str
    organisation_kind: str
    role: str
    projects: list[ProjectView]


class WaitView(BaseModel):
    """The scheduler's latest word on a waiting job."""

    reason: str  # quota, capacity, topology, reserved, priority, preempting, no_nodes, credits
    message: str
    position: int  # among all waiting jobs, in the order the scheduler considers them
    project_position: int
    priority: float  # normalised multifactor priority, 0..1
    estimated_start: float | None  # from a backfill reservation, when there is one
    updated_at: float


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
    # The effective time limit: the spec's, or the class default when submitted.
    time_limit_s: float = 0.0
    wait: WaitView | None = None
    # Runs so far (1 after the first launch; more after requeues) and what preemption cost.
    attempt: int = 0
    preemptions: int = 0
    lost_accelerator_seconds: float = 0.0
    # Told to stop (preempted or cancelled) and not ended yet.
    stopping: bool = False


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str] = Field(description="Job ids to cancel (at most 1,000).")


class CancelResultView(BaseModel):
    job_id: str
    # cancelled | stopping | finished | forbidden | not found
    result: str
    message: str


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


class PolicyView(BaseModel):
    """The scheduling policy in effect (docs/policy.md)."""

    version: int  # 0: nothing stored yet, the built-in default (preset fairshare)
    preset: str
    text: str  # the TOML as it was set; only what differs from the preset
    effective: dict[str, Any]  # every key, after merging the text over its preset
    set_at: float | None
    set_by: str | None


class PolicyUpdate(BaseModel):
    """A new policy: TOML text, or just the name of a preset. Exactly one."""

    model_config = ConfigDict(extra="forbid")

    toml: Annotated[str | None, Field(max_length=MAX_TEXT_BYTES)] = None
    preset: Annotated[str | None, Field(max_length=64)] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PolicyUpdate:
        if (self.toml is None) == (self.preset is None):
            raise ValueError('toml: give exactly one of "toml" (the policy text) or "preset"')
        return self


class QuotaView(BaseModel):
    """One resource of a project's or cohort's quota, with what is in use now.

    ``used`` and ``borrowed`` are None for a cohort above your own organisation (its use
    would reveal other organisations'). A project's ``borrowed`` is its use beyond nominal;
    a cohort's, its subtree's use beyond the subtree's nominal. ``has_quota`` is false for a
    project's use of a resource it has no quota for.
    """

    owner_kind: str  # project | cohort
    owner: str
    resource: str
    has_quota: bool
    nominal: float
    borrowing_limit: float | None
    lending_limit: float | None
    used: float | None
    borrowed: float | None


class QuotaSet(BaseModel):
    """Set one resource of a project's or a cohort's quota (give exactly one of them).
    Limits left out mean no cap (borrowing) and all unused quota lendable (lending)."""

    project: str | None = None
    cohort: str | None = None
    resource: str
    nominal: float
    borrowing_limit: float | None = None
    lending_limit: float | None = None


class CohortView(BaseModel):
    name: str
    kind: str  # organisation | program
    parent: str | None
    organisation: str | None  # for an organisation's own cohort
    projects: list[str]  # those you may see


class CohortCreate(BaseModel):
    name: str
    kind: str = "program"
    parent: str | None = None


class CohortMove(BaseModel):
    """The new parent; null moves the cohort to the root."""

    parent: str | None


class SharesSet(BaseModel):
    shares: float


class ProjectShares(BaseModel):
    project: str
    shares: float
