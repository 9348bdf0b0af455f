"""Tables of the validation testbed: a validation (a model, a dataset version, a metric,
scenarios and targets), one run per accelerator type (its job and its immutable result,
stored with its content hash), and the shares that let a named organisation or user read
the report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from aidc.store.models import Base


class Validation(Base):
    __tablename__ = "validations"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # random hex, opaque
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(255), index=True)
    model_sha256: Mapped[str] = mapped_column(String(64))
    model_bytes: Mapped[int] = mapped_column(BigInteger)
    model_key: Mapped[str] = mapped_column(String(255))  # where the storage backend keeps it
    dataset: Mapped[str] = mapped_column(String(64))
    dataset_version: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    scenarios: Mapped[list[Any]] = mapped_column(JSON)
    targets: Mapped[list[Any]] = mapped_column(JSON)  # as the tenant wrote them
    accelerators: Mapped[list[Any]] = mapped_column(JSON)  # types asked, in order
    created_at: Mapped[float] = mapped_column(Float)


class ValidationRun(Base):
    """One accelerator type's run. ``result_json`` is the harness's result in canonical
    JSON and ``result_sha256`` its hash; both are written once (see below)."""

    __tablename__ = "validation_runs"
    __table_args__ = (UniqueConstraint("validation_id", "accelerator"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    validation_id: Mapped[str] = mapped_column(ForeignKey("validations.id"), index=True)
    accelerator: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str] = mapped_column(String(16), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    reason: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ingested_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ValidationShare(Base):
    """Who else may read a validation's report: one organisation or one user."""

    __tablename__ = "validation_shares"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the link's id
    validation_id: Mapped[str] = mapped_column(ForeignKey("validations.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


@event.listens_for(ValidationRun, "before_update")
def _result_written_once(_mapper: object, _conn: object, run: ValidationRun) -> None:
    # The ORM never rewrites a result; a change made outside it is caught by re-hashing.
    for name in ("result_json", "result_sha256"):
        history = inspect(run).attrs[name].history
        if history.deleted and history.deleted[0] is not None:
            raise RuntimeError("a validation run's result is immutable once stored")


@event.listens_for(ValidationRun, "before_delete")
def _no_delete(*_: object) -> None:
    raise RuntimeError("validation runs are kept")
