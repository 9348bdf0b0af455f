"""Response models of the usage ledger, credits and notifications (services, API, client)."""

from __future__ import annotations

from pydantic import BaseModel


class CreditView(BaseModel):
    """One credit account: hours an allocation granted a project on one resource."""

    id: int
    project: str
    organisation: str
    allocation_id: int
    program: str
    resource: str  # an accelerator type (its accelerator-hours) or "pf" (PF-hours)
    granted_hours: float
    used_hours: float  # may exceed granted: overrun is recorded, never lost
    remaining_hours: float  # granted - used, never below 0
    percent_used: float
    starts_at: float
    ends_at: float
    active: bool
    on_exhausted: str  # hold | opportunistic | notify


class NotificationView(BaseModel):
    id: int
    key: str
    organisation: str
    project: str | None
    kind: str
    message: str
    created_at: float


class LedgerEntryView(BaseModel):
    """One ledger row: one run's use of one accelerator type over a period (never
    spanning a UTC day)."""

    id: int
    job_id: str
    attempt: int
    project: str
    pool: str
    accelerator_type: str
    devices: int
    period_start: float
    period_end: float
    accelerator_seconds: float
    cpu_seconds: float
    memory_gb_seconds: float
    pf_hours: float
    weighted_seconds: float
    credit_account_id: int | None
    credits: float
    final: bool
    recorded_at: float
