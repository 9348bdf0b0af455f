"""Tables of interactive sessions (JupyterLab through the scheduler) and named software
environments. Times are POSIX seconds."""

from __future__ import annotations

from typing import Any

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
from sqlalchemy.orm import Mapped, mapped_column

from aidc.store.models import Base


class NotebookRow(Base):
    """A notebook session: a JupyterLab run as an interactive job, reached through the
    server's proxy at ``/sessions/<id>/``. A restart runs a new job under the same id."""

    __tablename__ = "notebooks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The job running the session now (or last); earlier ones in ``previous_jobs``.
    job_id: Mapped[str] = mapped_column(String(32))
    previous_jobs: Mapped[list[Any]] = mapped_column(JSON)
    # starting | ready | stopped (aidc.core.notebooks.SessionState)
    state: Mapped[str] = mapped_column(String(16))
    state_reason: Mapped[str] = mapped_column(Text, default="")
    # Members of the project may enter too, not only the owner.
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the session asks for, to run it again on restart (accelerators, type, cpus...).
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    environment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # name@version:/mount, recorded (mounting comes with the dataset catalogue).
    datasets: Mapped[list[Any]] = mapped_column(JSON)
    idle_timeout_s: Mapped[float] = mapped_column(Float)
    # Secrets, never shown: JupyterLab's token for the current job, and the key that signs
    # this session's login tickets and cookies (kept across restarts).
    jupyter_token: Mapped[str] = mapped_column(String(128))
    cookie_key: Mapped[str] = mapped_column(String(128))
    # host:port of the JupyterLab, once it answered.
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    ready_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    stopped_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Kernel or terminal activity last seen by the idle check.
    last_activity: Mapped[float | None] = mapped_column(Float, nullable=True)
    checked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_notebooks_state", "state"),)


class EnvironmentRow(Base):
    """A named software environment of an organisation: a requirements list built into a
    cached virtualenv (local engine), and/or a module list or a container image name
    (Slurm and Ray pools) passed to the job."""

    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(64))
    requirements: Mapped[str] = mapped_column(Text, default="")
    modules: Mapped[list[Any]] = mapped_column(JSON)
    image: Mapped[str] = mapped_column(String(255), default="")
    # sha256 of the requirements: the cached virtualenv's folder name (shared by equals).
    digest: Mapped[str] = mapped_column(String(64))
    # The cached virtualenv (empty: none, the environment has no requirements).
    venv_path: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("org_id", "name"),)
