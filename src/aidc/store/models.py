"""Tables. Times are POSIX seconds (float) so SQLite and PostgreSQL agree without zones."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    # Registration details, for eligibility and funders' reports.
    registration_number: Mapped[str] = mapped_column(String(32), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    sector: Mapped[str] = mapped_column(String(64), default="")
    # The organisation's own cohort in the quota tree (its projects share and lend in it).
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"), nullable=True)


class Cohort(Base):
    """A node of the quota tree: an organisation's cohort or a program grouping cohorts."""

    __tablename__ = "cohorts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # organisation | program
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class Quota(Base):
    """Nominal, borrowing and lending limit of one resource for a project or a cohort."""

    __tablename__ = "quotas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))  # project | cohort
    owner_id: Mapped[int] = mapped_column(Integer)
    resource: Mapped[str] = mapped_column(String(32))
    nominal: Mapped[float] = mapped_column(Float)
    borrowing_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    lending_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", "resource"),)


class ProjectUsage(Base):
    """Decayed, billing-weighted accelerator-seconds of a project's finished runs, as of
    ``as_of``; fair share adds what runs now when it reads this."""

    __tablename__ = "project_usage"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    decayed: Mapped[float] = mapped_column(Float)
    as_of: Mapped[float] = mapped_column(Float)
    # Undecayed totals, for people: accelerator-seconds and what preemption threw away.
    accelerator_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    lost_accelerator_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    preemptions: Mapped[int] = mapped_column(Integer, default=0)


class PolicyRow(Base):
    """A scheduling policy version (TOML). The newest row is the one in effect."""

    __tablename__ = "policies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    # argon2id hash for the web portal's login; None until the user sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True, default=None)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[float] = mapped_column(Float)
    # Fair-share weight (the allocation's shares).
    shares: Mapped[float] = mapped_column(Float, default=1.0)


class ProjectMember(Base):
    __tablename__ = "project_members"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored (tokens are 256-bit random strings)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class PoolRow(Base):
    __tablename__ = "pools"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    engine: Mapped[str] = mapped_column(String(32))


class NodeRow(Base):
    __tablename__ = "nodes"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    pool: Mapped[str] = mapped_column(ForeignKey("pools.name"))
    cpus: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(Integer)
    accelerator_type: Mapped[str] = mapped_column(String(32))
    devices: Mapped[list[Any]] = mapped_column(JSON)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    """A job. ``seq`` orders the queue; ``id`` is the opaque name users see."""

    __tablename__ = "jobs"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The resource request, in columns so the scheduler's snapshot needs no JSON parsing.
    nodes: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[int] = mapped_column(Integer)
    memory_mib: Mapped[int] = mapped_column(Integer)
    accelerators: Mapped[int] = mapped_column(Integer)
    # Acceptable types, comma-separated (None: any).
    accelerator_type: Mapped[str | None] = mapped_column(String(128), nullable=True)
    accelerator_memory_gb: Mapped[float] = mapped_column(Float, default=0.0)
    priority_class: Mapped[str] = mapped_column(String(16), default="normal")
    nice: Mapped[int] = mapped_column(Integer, default=0)
    # The effective limit: the spec's, or the class default when the job was submitted.
    time_limit_s: Mapped[float] = mapped_column(Float)
    spread: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    same_rack: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    placement: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    engine: Mapped[str | None] = mapped_column(String(32), nullable=True)
    handle: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cancel_requested_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Set when the scheduler asked the engine to stop the job to make room for another.
    preempt_requested_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Whether the current run uses quota beyond the project's nominal (reclaimable).
    borrowing: Mapped[bool] = mapped_column(Boolean, default=False)
    # Runs so far (1 after the first launch); each run after a requeue gets its own folder.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    preemptions: Mapped[int] = mapped_column(Integer, default=0)
    lost_accelerator_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # The current run is in the usage ledger up to this time (None: not metered yet).
    metered_until: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_jobs_state_seq", "state", "seq"),
        Index("ix_jobs_project_state", "project_id", "state"),
        Index("ix_jobs_user", "user_id"),
    )


class JobEvent(Base):
    """One line of a job's history: a transition (from -> to) or a note in the same state."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_seq: Mapped[int] = mapped_column(ForeignKey("jobs.seq"), index=True)
    at: Mapped[float] = mapped_column(Float)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)


class JobWait(Base):
    """The scheduler's latest word on a waiting job: why, where in line, and when it may start."""

    __tablename__ = "job_waits"
    job_seq: Mapped[int] = mapped_column(ForeignKey("jobs.seq"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    project_position: Mapped[int] = mapped_column(Integer)
    priority: Mapped[float] = mapped_column(Float)
    estimated_start: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


# The rest of the schema, so that ``Base.metadata`` is whole wherever models is imported.
from aidc.store import (  # noqa: E402, F401
    models_allocations,
    models_audit,
    models_datasets,
    models_ledger,
    models_notebooks,
    models_portal,
    models_validation,
)
