"""The security audit log: append-only, one row per security-relevant action.

Nothing updates or deletes these rows; services add them in the transaction of the action
they record, so an action and its audit line commit (or roll back) together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from aidc.store.models import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))  # a username, or "controller"
    action: Mapped[str] = mapped_column(String(64))  # "token.issued", "allocation.approve"
    target_kind: Mapped[str] = mapped_column(String(32))  # user, token, job, allocation
    target: Mapped[str] = mapped_column(String(128))
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the org concerned
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_events_at", "at"),)
