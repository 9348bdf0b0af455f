"""A job spec: what a user asks to run, validated with errors that name the field."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aidc.core import accelerators
from aidc.core.datasets import DatasetMount
from aidc.core.resources import Request
from aidc.core.units import parse_duration, parse_memory_mib

# \Z, not $: $ also matches before a trailing newline, letting "name\n" through.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# Variables the engine sets itself; a user value would lie to the job about its placement.
_RESERVED_ENV_PREFIXES = ("AIDC_",)
_RESERVED_ENV = {"CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"}

MAX_COMMAND_BYTES = 64 * 1024
MAX_SCRIPT_BYTES = 1024 * 1024
MAX_ENV_BYTES = 64 * 1024
DEFAULT_TIME_LIMIT_S = 24 * 3600
MAX_TIME_LIMIT_S = 14 * 24 * 3600


class PriorityClass(StrEnum):
    """How a job is treated; the policy says how each class is weighed and preempted.

    interactive: notebooks and sessions; within nominal quota only, never preempted.
    normal: batch work; may borrow idle quota of the cohort, and is preempted to give it back.
    opportunistic: runs on any idle capacity beyond quota; preempted first.
    """

    INTERACTIVE = "interactive"
    NORMAL = "normal"
    OPPORTUNISTIC = "opportunistic"


class PlacementChoice(StrEnum):
    PACK = "pack"
    SPREAD = "spread"


class JobSpec(BaseModel):
    """What to run and what it needs per node. Sizes accept text ("16G", "1h30m")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: Annotated[str, Field(description="Project the job runs and is billed under.")]
    name: Annotated[str | None, Field(description="A label for the job.")] = None
    command: Annotated[
        list[str] | None, Field(description="Program and arguments (argv), run without a shell.")
    ] = None
    script: Annotated[
        str | None, Field(description="A shell script run with bash, instead of command.")
    ] = None
    workdir: Annotated[
        str | None,
        Field(description="Absolute working directory; default a fresh private job folder."),
    ] = None
    env: Annotated[dict[str, str], Field(description="Extra environment variables.")] = {}
    accelerators: Annotated[int, Field(ge=0, le=64, description="Accelerators per node.")] = 0
    accelerator_type: Annotated[
        str | list[str] | None,
        Field(
            description="Accelerator type (h100), a list of acceptable types (h100,a100), "
            "or empty for any; the scheduler picks among acceptable types by policy."
        ),
    ] = None
    accelerator_memory_gb: Annotated[
        float | None,
        Field(ge=1, le=10_000, description="Only accelerators with at least this much memory."),
    ] = None
    nodes: Annotated[int, Field(ge=1, le=4096, description="Number of nodes.")] = 1
    cpus: Annotated[int, Field(ge=1, le=1024, description="CPU cores per node.")] = 1
    memory_mib: Annotated[
        int, Field(ge=1, le=64 * 1024 * 1024, description="Memory per node in MiB (or '16G').")
    ] = 1024
    time_limit_s: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_TIME_LIMIT_S,
            description="Wall-clock limit in seconds (or '2h'); default: the class default.",
        ),
    ] = None
    priority_class: PriorityClass = PriorityClass.NORMAL
    nice: Annotated[
        int, Field(ge=0, le=10_000, description="Lowers the job's priority by this much.")
    ] = 0
    placement: Annotated[
        PlacementChoice | None,
        Field(description="pack (default) fills busy nodes first; spread uses empty ones."),
    ] = None
    same_rack: Annotated[
        bool, Field(description="Multi-node jobs: all nodes must share one rack/switch.")
    ] = False
    datasets: Annotated[
        list[DatasetMount],
        Field(max_length=16, description="Datasets to read: NAME[@VERSION][:PATH], read-only."),
    ] = []
    environment: Annotated[
        str | None,
        Field(description="A named software environment of your organisation (aidc env list)."),
    ] = None

    @field_validator("project")
    @classmethod
    def _project_name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be a project name: letters, digits, '.', '_' or '-'")
        return v

    @field_validator("name")
    @classmethod
    def _job_name(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError("must be 1-63 letters, digits, '.', '_' or '-'")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError("must be an environment name: letters, digits, '.', '_' or '-'")
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v or not v[0]:
            raise ValueError("must name a program to run, e.g. ['python', 'train.py']")
        if sum(len(a.encode()) for a in v) > MAX_COMMAND_BYTES:
            raise ValueError(f"is longer than {MAX_COMMAND_BYTES} bytes; put it in a script")
        if any("\x00" in a for a in v):
            raise ValueError("must not contain NUL characters")
        return v

    @field_validator("script")
    @classmethod
    def _script(cls, v: str | None) -> str | None:
        if v is not None and len(v.encode()) > MAX_SCRIPT_BYTES:
            raise ValueError(f"is longer than {MAX_SCRIPT_BYTES} bytes")
        if v is not None and not v.strip():
            raise ValueError("is empty; give the script's text")
        return v

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise ValueError("must be an absolute path such as /home/me/project")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"{key!r} is not a variable name (letters, digits, '_')")
            if key in _RESERVED_ENV or key.startswith(_RESERVED_ENV_PREFIXES):
                raise ValueError(f"{key} is set by aidc from the job's placement; remove it")
            if "\x00" in value:
                raise ValueError(f"{key} must not contain NUL characters")
        if sum(len(k) + len(val) for k, val in v.items()) > MAX_ENV_BYTES:
            raise ValueError(f"is larger than {MAX_ENV_BYTES} bytes")
        return v

    @field_validator("accelerator_type")
    @classmethod
    def _accelerator_type(cls, v: str | list[str] | None) -> str | list[str] | None:
        names = v.split(",") if isinstance(v, str) else (v or [])
        wanted: list[str] = []
        for raw in names:
            name = raw.strip().lower()
            if name in ("", "any"):
                continue
            if name not in accelerators.CATALOG:
                raise ValueError(
                    f"unknown type {name!r}; use one of {', '.join(accelerators.CATALOG)}"
                )
            if name not in wanted:
                wanted.append(name)
        if not wanted:
            return None
        return wanted[0] if len(wanted) == 1 else wanted

    @field_validator("memory_mib", mode="before")
    @classmethod
    def _memory(cls, v: Any) -> Any:
        return parse_memory_mib(v) if isinstance(v, str) else v

    @field_validator("time_limit_s", mode="before")
    @classmethod
    def _time_limit(cls, v: Any) -> Any:
        return parse_duration(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        if (self.command is None) == (self.script is None):
            raise ValueError("command: give exactly one of command or script")
        if "cpu" in self.accelerator_types and self.accelerators:
            raise ValueError(
                "accelerator_type: cpu takes no accelerators; ask for cpus instead, "
                "or name a GPU/NPU type"
            )
        if self.accelerator_memory_gb is not None and not self.accelerators:
            raise ValueError(
                "accelerator_memory_gb: only applies to accelerators; also set accelerators"
            )
        if self.accelerator_memory_gb is not None and self.accelerator_types:
            small = [
                t
                for t in self.accelerator_types
                if accelerators.memory_gb(t) < self.accelerator_memory_gb
            ]
            if len(small) == len(self.accelerator_types):
                raise ValueError(
                    f"accelerator_memory_gb: none of {', '.join(small)} has "
                    f"{self.accelerator_memory_gb:g} GB; lower it or name a larger type"
                )
        return self

    @property
    def accelerator_types(self) -> tuple[str, ...]:
        t = self.accelerator_type
        if t is None:
            return ()
        return (t,) if isinstance(t, str) else tuple(t)

    def request(self) -> Request:
        return Request(
            nodes=self.nodes,
            cpus=self.cpus,
            memory_mib=self.memory_mib,
            accelerators=self.accelerators,
            accelerator_types=self.accelerator_types if self.accelerators else (),
            min_accelerator_memory_gb=(
                (self.accelerator_memory_gb or 0.0) if self.accelerators else 0.0
            ),
        )
