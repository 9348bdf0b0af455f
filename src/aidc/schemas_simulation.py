"""What /v1/simulations takes and returns (docs/simulator.md, "The API")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aidc.core.policy_text import MAX_TEXT_BYTES

MAX_TRACE_BYTES = 64 * 1024 * 1024
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class PolicyChoice(BaseModel):
    """A preset by ``name``, or a policy file's ``toml`` text shown under ``name``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=NAME)]
    toml: Annotated[str | None, Field(max_length=MAX_TEXT_BYTES)] = None


class SimulationCreate(BaseModel):
    """One experiment. The trace is a file under the server's traces directory (``trace``,
    a relative name) or uploaded (``trace_text``, the file's content): exactly one."""

    model_config = ConfigDict(extra="forbid")

    trace: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    trace_text: Annotated[str | None, Field(min_length=1, max_length=MAX_TRACE_BYTES)] = None
    format: Annotated[str, Field(min_length=1, max_length=64)]
    cluster: Annotated[str, Field(min_length=1, max_length=64)]
    policies: Annotated[list[PolicyChoice], Field(min_length=1, max_length=8)] = [
        PolicyChoice(name="fairshare")
    ]
    seed: Annotated[int, Field(ge=0, le=2**32)] = 0
    oracle: bool = False
    limit_median: Annotated[float, Field(ge=1, le=1000)] = 3.0
    limit_sigma: Annotated[float, Field(ge=0, le=5)] = 1.0
    add_nodes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=16)] = []
    scale_load: Annotated[float, Field(gt=0, le=1000)] = 1.0
    until_s: Annotated[float | None, Field(gt=0)] = None
    points: Annotated[int, Field(ge=1, le=5000)] = 500

    @model_validator(mode="after")
    def _one_trace(self) -> SimulationCreate:
        if (self.trace is None) == (self.trace_text is None):
            raise ValueError(
                'trace: give exactly one of "trace" (a file in the traces directory) or '
                '"trace_text" (the trace itself)'
            )
        return self


class SimulationView(BaseModel):
    id: str
    state: Literal["running", "succeeded", "failed"]
    created_at: float
    created_by: str
    finished_at: float | None = None
    error: str | None = None
    # The request as given, without an uploaded trace's text.
    request: dict[str, Any]
    # The result document (``aidc simulate --json``), once succeeded; only from GET by id.
    result: dict[str, Any] | None = None
