"""Request and response models of the dataset catalog, grants, airlock and audit log."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from aidc.core.datasets import Sector, Tier

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex.")]


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    title: str = ""
    owner: Annotated[
        str | None, Field(description="Owning organisation; none: the center (operators).")
    ] = None
    sector: Sector
    tier: Tier
    card: Annotated[str, Field(max_length=200_000, description="Markdown description.")] = ""
    licence: Annotated[str, Field(max_length=128)] = ""
    tags: Annotated[list[str], Field(max_length=32)] = []


class VersionView(BaseModel):
    version: int
    state: str
    total_bytes: int
    file_count: int
    note: str = ""
    created_by: str
    created_at: float
    committed_at: float | None = None


class DatasetView(BaseModel):
    name: str
    title: str
    owner: str  # organisation name, or "center"
    sector: str
    tier: str
    card: str
    licence: str
    tags: list[str]
    created_at: float
    versions: list[VersionView] = []


class FileView(BaseModel):
    path: str
    size: int
    sha256: str


class ManifestView(BaseModel):
    dataset: str
    version: int
    total_bytes: int
    files: list[FileView]


MAX_FILE_BYTES = 2**50


class FileDecl(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Annotated[str, Field(max_length=1024)]
    # At most 1 PiB a file: sizes and their sums must fit the database's 64-bit integers.
    size: Annotated[int, Field(ge=0, le=MAX_FILE_BYTES)]
    # Known now, or given at commit (a client that hashes while it sends reads once).
    sha256: Sha256 | None = None


class FileSum(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idx: int
    sha256: Sha256


class CommitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    files: Annotated[
        list[FileSum], Field(description="SHA-256 of files declared without one.")
    ] = []


class UploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    files: Annotated[list[FileDecl], Field(min_length=1, max_length=100_000)]
    note: Annotated[str, Field(max_length=10_000)] = ""


class UploadFileView(BaseModel):
    idx: int
    path: str
    size: int
    received: int


class UploadView(BaseModel):
    dataset: str
    version: int
    upload_id: str
    state: str
    total_bytes: int
    files: list[UploadFileView]


class StorageView(BaseModel):
    organisation: str
    used_bytes: int
    limit_bytes: int


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str
    project: Annotated[str | None, Field(description="The project that needs it, or:")] = None
    course: Annotated[
        str | None, Field(description="A course listing the dataset: all its students.")
    ] = None
    purpose: Annotated[str, Field(min_length=1, max_length=10_000)]
    starts_at: float | None = None
    ends_at: float


class GrantDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=10_000)] = ""


class GrantView(BaseModel):
    id: int
    dataset: str
    project: str  # "" for a course's grant
    course: str = ""
    state: str
    live: bool
    purpose: str
    starts_at: float
    ends_at: float
    requested_by: str
    created_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str = ""


class AirlockView(BaseModel):
    id: int
    job_id: str
    project: str
    state: str
    datasets: list[str]
    files: list[FileView]
    total_bytes: int
    captured_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str = ""


class AuditView(BaseModel):
    at: float
    actor: str
    action: str
    outcome: str
    dataset: str
    version: int | None
    project: str
    job_id: str
    purpose: str
    detail: str


class PreviewView(BaseModel):
    dataset: str
    version: int
    path: str
    kind: str  # csv | parquet | image
    columns: list[str] = []
    rows: list[list[str]] = []
    thumbnail_png_base64: str = ""
