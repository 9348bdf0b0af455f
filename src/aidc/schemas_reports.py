"""Response models of the reports: usage, center utilisation and allocation burn-down."""

from __future__ import annotations

from pydantic import BaseModel

# The measures of a usage row, in the order of the CSV's columns.
MEASURES = (
    "accelerator_hours",
    "accelerator_seconds",
    "pf_hours",
    "cpu_hours",
    "memory_gb_hours",
    "credits",
    "jobs",
)


class PeriodView(BaseModel):
    """``[start, end)`` as UTC ISO times; None is an open bound (all time)."""

    label: str
    start: str | None
    end: str | None


class UsageMeasures(BaseModel):
    accelerator_hours: float
    # Exact: what the ledger holds, summed (hours are this / 3600).
    accelerator_seconds: float
    pf_hours: float
    cpu_hours: float
    memory_gb_hours: float
    # Credit-account hours debited (accelerator-hours or PF-hours, per the account).
    credits: float
    # Distinct job runs (job, attempt) with usage in the row: not additive across rows.
    jobs: int


class UsageRow(UsageMeasures):
    # Grouping key -> value ("" for no program), in the order of ``UsageReport.by``.
    keys: dict[str, str]


class UsageReport(BaseModel):
    by: list[str]
    period: PeriodView
    rows: list[UsageRow]
    totals: UsageMeasures


class UtilisationRow(BaseModel):
    accelerator_type: str  # "total" in the totals row
    capacity_device_hours: float
    capacity_pf_hours: float
    # Accelerator-hours of this type granted by allocations, prorated to the period.
    allocated_hours: float
    used_hours: float
    used_pf_hours: float
    # used / capacity (None without capacity in the period).
    utilisation: float | None
    pf_delivered: float | None


class UtilisationReport(BaseModel):
    period: PeriodView
    rows: list[UtilisationRow]
    total: UtilisationRow
    # PF-hours granted on any accelerator ("pf" grants), prorated to the period.
    allocated_pf_hours: float


class BurnPoint(BaseModel):
    day: str  # YYYY-MM-DD (UTC)
    used: float  # hours debited that day
    cumulative: float


class BurnResource(BaseModel):
    resource: str  # an accelerator type, or "pf"
    granted_hours: float
    used_hours: float
    remaining_hours: float
    # Hours per day over the trailing 7 days, and when the rest runs out at that rate.
    rate_per_day: float
    projected_exhaustion: str | None  # YYYY-MM-DD; None without recent use
    exhausted: bool
    series: list[BurnPoint]


class BurnDown(BaseModel):
    allocation_id: int
    project: str
    program: str
    state: str
    starts_at: str | None
    ends_at: str | None
    resources: list[BurnResource]
