"""Tables of the dataset catalog: datasets, immutable versions and their files, access
grants, the airlock of job outputs, the append-only audit log and the storage ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from aidc.store.models import Base


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # None: the center's own dataset (no storage quota).
    owner_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200), default="")
    sector: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(16))
    card: Mapped[str] = mapped_column(Text, default="")  # markdown
    licence: Mapped[str] = mapped_column(String(128), default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class DatasetVersion(Base):
    """uploading: its files arrive; ready: committed, immutable for ever."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    # The upload's secret id (the version number is guessable; this is not).
    upload_id: Mapped[str] = mapped_column(String(32), unique=True)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    committed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class DatasetFile(Base):
    """One file of a version's manifest; ``received`` counts bytes of an upload so far."""

    __tablename__ = "dataset_files"
    __table_args__ = (UniqueConstraint("version_id", "path"), UniqueConstraint("version_id", "idx"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    received: Mapped[int] = mapped_column(BigInteger, default=0)


class AccessGrant(Base):
    """A project's (or a course's: all its students' projects) access to a restricted
    dataset: requested -> approved | rejected; approved grants are live between starts_at
    and ends_at (or until revoked). Exactly one of project_id and course_id is set."""

    __tablename__ = "dataset_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id"), nullable=True, index=True
    )
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id"), nullable=True, index=True
    )
    state: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class AirlockOutput(Base):
    """The captured outputs of a job that read restricted data: held until a steward
    releases them (the project may download) or rejects them (with a reason)."""

    __tablename__ = "airlock_outputs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(16), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # held | released | rejected
    datasets: Mapped[list[Any]] = mapped_column(JSON)  # "name@version" read by the job
    files: Mapped[list[Any]] = mapped_column(JSON)  # [{path, size, sha256}]
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    captured_at: Mapped[float] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    """One dataset access or refusal. Append-only: the ORM refuses updates and deletes."""

    __tablename__ = "dataset_audit"
    __table_args__ = (Index("ix_dataset_audit_dataset_at", "dataset", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # allowed | refused
    dataset: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    project: Mapped[str] = mapped_column(String(64), default="")
    job_id: Mapped[str] = mapped_column(String(16), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class StorageLedgerEntry(Base):
    """An organisation's stored bytes on one UTC day (dataset versions + airlock), as
    measured by the daily meter; byte_days is bytes x the day's share metered (1.0)."""

    __tablename__ = "storage_ledger"
    __table_args__ = (UniqueConstraint("org_id", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (UTC)
    bytes: Mapped[int] = mapped_column(BigInteger)
    byte_days: Mapped[float] = mapped_column(Float)
    metered_at: Mapped[float] = mapped_column(Float)


@event.listens_for(AuditRow, "before_update")
def _no_update(*_: object) -> None:
    raise RuntimeError("the dataset audit log is append-only")


@event.listens_for(AuditRow, "before_delete")
def _no_delete(*_: object) -> None:
    raise RuntimeError("the dataset audit log is append-only")
