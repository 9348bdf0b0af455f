"""Tables of funded capacity: programs, allocations and their history, credits, courses,
invitations and notifications. Times are POSIX seconds; hours are accelerator-hours."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aidc.store.models import Base


class Program(Base):
    """A funded program: who may apply, for how long, and how many hours it can give."""

    __tablename__ = "programs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # allocation | education
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    # Organisation kinds that may apply (empty: every kind).
    eligible_kinds: Mapped[list[Any]] = mapped_column(JSON)
    # Resource -> hours: an accelerator type's accelerator-hours, or "pf" for PF-hours.
    budget_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    storage_budget_gb: Mapped[float] = mapped_column(Float, default=0.0)
    # Review rules: required_approvals, max_hours (resource -> hours per allocation),
    # on_exhausted (hold | opportunistic | notify).
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The program's cohort in the quota tree (its organisations' cohorts hang under it).
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))


class Allocation(Base):
    """A request for a project's capacity in a program, and once approved the grant.

    ``kind``: new, renewal (``parent_id`` is the allocation it continues) or change (a
    change request to the active ``parent_id``; on approval it amends the parent).
    """

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    justification: Mapped[str] = mapped_column(Text)
    # Resource -> hours (accelerator type or "pf"); accelerator type -> concurrent devices.
    requested_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_quota: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_storage_gb: Mapped[float] = mapped_column(Float, default=0.0)
    granted_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    granted_quota: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    granted_storage_gb: Mapped[float | None] = mapped_column(Float, nullable=True)
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class AllocationEvent(Base):
    """One step of an allocation's history: who did what, when, and why."""

    __tablename__ = "allocation_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class CreditAccount(Base):
    """Hours an allocation granted a project on one resource, and how many are used.

    ``resource`` is an accelerator type (its accelerator-hours) or "pf" (PF-hours on any
    accelerator). ``used_hours`` only grows, by ledger entries debiting it.
    """

    __tablename__ = "credit_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    resource: Mapped[str] = mapped_column(String(32))
    granted_hours: Mapped[float] = mapped_column(Float)
    used_hours: Mapped[float] = mapped_column(Float, default=0.0)
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    # hold | opportunistic | notify: what happens to new jobs once it is used up.
    on_exhausted: Mapped[str] = mapped_column(String(16), default="hold")

    __table_args__ = (UniqueConstraint("allocation_id", "resource"),)


class Notification(Base):
    """A message to an organisation (credit warnings, expiries). ``key`` makes each
    notice once-only (e.g. "credits:12:80")."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class Invitation(Base):
    """An org admin's invitation for a new member; only the code's SHA-256 is stored."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    # Projects the new member joins when accepting.
    projects: Mapped[list[Any]] = mapped_column(JSON)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    accepted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Course(Base):
    """A training course: an instructor, students with small allocations, shared datasets;
    all of it ends at ``ends_at``."""

    __tablename__ = "courses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    instructor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    # What each student gets: resource -> hours, accelerator type -> concurrent devices.
    student_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    student_quota: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Dataset names the course shares with its students (the catalog grants them).
    datasets: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class CourseStudent(Base):
    __tablename__ = "course_students"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # The student's own project and the allocation that funds it.
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    email: Mapped[str] = mapped_column(String(256), default="")
    full_name: Mapped[str] = mapped_column(String(256), default="")


Index("ix_credit_accounts_project_resource", CreditAccount.project_id, CreditAccount.resource)
