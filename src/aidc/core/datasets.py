"""Datasets as domain values: sectors, access tiers, safe file names, and job mounts.

Pure: no I/O. A file name inside a dataset is a relative POSIX path; anything that could
name a place outside the version's folder (absolute paths, ``..``, drive letters,
backslashes, control characters) is refused here, before any byte is accepted.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DATASET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")
MAX_PATH_CHARS = 1024
MAX_COMPONENT_CHARS = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class Sector(StrEnum):
    AUTOMOTIVE = "automotive"
    ENERGY = "energy"
    HEALTHCARE = "healthcare"
    MANUFACTURING = "manufacturing"
    CULTURE_CONTENT = "culture-content"
    PUBLIC = "public"
    OTHER = "other"


class Tier(StrEnum):
    """public: every user; registered: members of approved organisations (an active
    allocation); restricted: only jobs of projects with a live access grant."""

    PUBLIC = "public"
    REGISTERED = "registered"
    RESTRICTED = "restricted"


def file_path_problem(path: str) -> str | None:
    """Why ``path`` may not name a file in a dataset, or None when it may."""
    if not path:
        return "is empty"
    if len(path) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    if _CONTROL.search(path):
        return "contains control characters"
    if "\\" in path:
        return "contains a backslash; use '/' between folders"
    if path.startswith("/") or _DRIVE.match(path):
        return "is absolute; give a path relative to the dataset's root"
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            return "has an empty, '.' or '..' component"
        if len(part) > MAX_COMPONENT_CHARS:
            return f"has a component longer than {MAX_COMPONENT_CHARS} characters"
        if part != part.strip():
            return "has a component starting or ending with a space"
    return None


def env_name(dataset: str) -> str:
    """The variable a job finds a mounted dataset's folder in: AIDC_DATASET_TRAFFIC_SEOUL."""
    return "AIDC_DATASET_" + re.sub(r"[^A-Z0-9]", "_", dataset.upper())


class DatasetMount(BaseModel):
    """A dataset a job reads: ``traffic-seoul@3:/data`` (no version: the newest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(description="The dataset's name.")]
    version: Annotated[int | None, Field(ge=1, description="Version; default the newest.")] = None
    path: Annotated[
        str, Field(description="Where the job expects it (engines without mounts: see env).")
    ] = "/data"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, v: Any) -> Any:
        if isinstance(v, str):
            return parse_mount(v)
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not DATASET_NAME_RE.match(v):
            raise ValueError("dataset names are lower-case letters, digits, '.', '_' or '-'")
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or _CONTROL.search(v) or ".." in v.split("/"):
            raise ValueError("must be an absolute path without '..', e.g. /data")
        return v


def parse_mount(text: str) -> dict[str, Any]:
    """``NAME[@VERSION][:PATH]`` as DatasetMount's fields; errors say the form."""
    name, _, path = text.partition(":")
    name, at, version = name.partition("@")
    out: dict[str, Any] = {"name": name}
    if at:
        if not (version.isascii() and version.isdigit()):
            raise ValueError(f"{text!r}: the version after '@' is a number, e.g. traffic@3:/data")
        out["version"] = int(version)
    if path:
        out["path"] = path
    return out
