"""The usage ledger: append-only, one row per job run, accelerator type and metered period.

Periods never span a UTC day, so reports by day and month sum whole rows. The unique key
(job, attempt, type, period start) makes metering idempotent: writing the same period twice
is refused by the database rather than charged twice.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aidc.store.models import Base


class LedgerEntry(Base):
    __tablename__ = "usage_ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_seq: Mapped[int] = mapped_column(ForeignKey("jobs.seq"))
    job_id: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    pool: Mapped[str] = mapped_column(String(64))
    accelerator_type: Mapped[str] = mapped_column(String(32))
    devices: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[float] = mapped_column(Float)
    period_end: Mapped[float] = mapped_column(Float)
    accelerator_seconds: Mapped[float] = mapped_column(Float)
    cpu_seconds: Mapped[float] = mapped_column(Float)
    memory_gb_seconds: Mapped[float] = mapped_column(Float)
    pf_hours: Mapped[float] = mapped_column(Float)
    # Billing-weighted accelerator-seconds (A100-seconds), what fair share counts.
    weighted_seconds: Mapped[float] = mapped_column(Float)
    # The credit account debited, and by how many of its hours (None / 0: not metered).
    credit_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_accounts.id"), nullable=True
    )
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    # The run's last entry (written when it ended).
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("job_seq", "attempt", "accelerator_type", "period_start"),
        Index("ix_usage_ledger_period", "period_start"),
        Index("ix_usage_ledger_project_period", "project_id", "period_start"),
    )


class CapacityEntry(Base):
    """Accelerators a pool had up during a metered period (utilisation's denominator)."""

    __tablename__ = "capacity_ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool: Mapped[str] = mapped_column(String(64))
    accelerator_type: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[float] = mapped_column(Float)
    period_end: Mapped[float] = mapped_column(Float)
    devices_total: Mapped[int] = mapped_column(Integer)
    devices_up: Mapped[int] = mapped_column(Integer)
    device_seconds_up: Mapped[float] = mapped_column(Float)
    pf_hours_up: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("pool", "accelerator_type", "period_start"),
        Index("ix_capacity_ledger_period", "period_start"),
    )
