"""Request and response models of notebook sessions and software environments."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from aidc.core.jobspec import MAX_TIME_LIMIT_S
from aidc.core.notebooks import SessionState


class NotebookStart(BaseModel):
    """What a session asks for: the project it is billed to and what its node must have."""

    model_config = ConfigDict(extra="forbid")

    project: str
    accelerators: Annotated[int, Field(ge=0, le=64)] = 0
    accelerator_type: str | list[str] | None = None
    cpus: Annotated[int, Field(ge=1, le=1024)] = 1
    memory_mib: Annotated[int | str, Field(description="MiB, or text such as '16G'.")] = 4096
    time_limit_s: Annotated[
        int | str | None,
        Field(description="The session's maximum lifetime (default: the interactive class's)."),
    ] = None
    environment: str | None = None
    datasets: Annotated[
        list[str], Field(description="name@version:/mount, recorded (mounting comes later).")
    ] = []
    shared: Annotated[bool, Field(description="Members of the project may enter too.")] = False
    idle_timeout_s: Annotated[
        float | None,
        Field(ge=0, le=MAX_TIME_LIMIT_S, description="Stop after this long idle (<= center's)."),
    ] = None


class NotebookView(BaseModel):
    id: str
    project: str
    user: str
    state: SessionState
    # Where a starting session stands, or why a stopped one stopped.
    message: str
    url: str
    job_id: str
    job_state: str
    previous_jobs: list[str]
    shared: bool
    request: dict[str, Any]
    environment: str | None
    datasets: list[str]
    node: str | None
    idle_timeout_s: float
    time_limit_s: float
    created_at: float
    ready_at: float | None
    stopped_at: float | None
    expires_at: float | None
    last_activity: float | None
    restarts: int


class LoginLink(BaseModel):
    """A link that logs a browser into one session (a cookie for its path only)."""

    url: str
    expires_at: float


class EnvironmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    requirements: Annotated[str, Field(max_length=64 * 1024)] = ""
    modules: list[str] = []
    image: Annotated[str, Field(max_length=255)] = ""


class EnvironmentView(BaseModel):
    name: str
    organisation: str
    requirements: str
    modules: list[str]
    image: str
    # none (no requirements) | building | ready | failed
    build_state: str
    build_error: str
    venv: str
    has_jupyterlab: bool
    created_at: float
    created_by: str
