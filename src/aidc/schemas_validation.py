"""Request and response models of the validation testbed (docs/validation.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ValidationCreate(BaseModel):
    """What to validate; the model file comes beside it (multipart ``model``)."""

    model_config = ConfigDict(extra="forbid")

    project: Annotated[str, Field(description="The project the jobs run and are billed under.")]
    dataset: Annotated[str, Field(description="The evaluation set: NAME@VERSION (eval-set@2).")]
    metric: Annotated[str, Field(description="top1 or top5.")] = "top1"
    accelerators: Annotated[
        list[str], Field(min_length=1, max_length=16, description="Types: a100, h100, cpu, ...")
    ]
    scenarios: Annotated[
        list[str], Field(min_length=1, max_length=2, description="single-stream, offline.")
    ] = ["single-stream", "offline"]
    targets: Annotated[
        list[str], Field(max_length=32, description="Pass/fail targets: p99<=20ms, top1>=0.76.")
    ] = []
    name: Annotated[str | None, Field(description="A label; default the model's file name.")] = None
    model_name: Annotated[
        str | None,
        Field(description="The model's name across versions; default the file name."),
    ] = None
    model_sha256: Annotated[
        str | None, Field(description="SHA-256 of the model file, checked on arrival.")
    ] = None


class VerdictView(BaseModel):
    target: str
    measured: float | None
    passed: bool


class RunView(BaseModel):
    accelerator: str
    job_id: str
    job_state: str
    state: str  # pending | succeeded | failed
    reason: str
    result_sha256: str | None
    # verified (the stored result re-hashes to its hash), tampered, or pending (no result)
    integrity: str
    ingested_at: float | None
    verdicts: list[VerdictView]


class ValidationView(BaseModel):
    id: str
    name: str
    project: str
    organisation: str
    created_by: str
    model_name: str
    model_sha256: str
    model_bytes: int
    dataset: str  # NAME@VERSION
    metric: str
    scenarios: list[str]
    targets: list[str]
    accelerators: list[str]
    created_at: float
    state: str  # running | done
    runs: list[RunView]


class CompareRow(BaseModel):
    validation_id: str
    model_sha256: str
    accelerator: str
    state: str
    integrity: str
    metric: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    throughput_per_s: float | None
    peak_memory_bytes: float | None
    energy_j_per_inference: float | None
    verdicts: list[VerdictView]
    environment: dict[str, Any]


class CompareView(BaseModel):
    validation_id: str
    model_name: str
    metric: str
    targets: list[str]
    rows: list[CompareRow]  # this validation's runs first, then other model versions'


class VerifyView(BaseModel):
    validation_id: str
    ok: bool
    runs: list[RunView]


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: Annotated[str | None, Field(description="An organisation that may read.")] = None
    user: Annotated[str | None, Field(description="A user who may read.")] = None


class ShareView(BaseModel):
    id: str
    validation_id: str
    organisation: str | None
    user: str | None
    created_by: str
    created_at: float
    revoked_at: float | None
    link: str  # the portal page the named reader opens (permissions checked there)


# The comparison table's columns and a row's cells, as the CLI and the reports print them.
COLUMNS = (
    "validation",
    "model sha256",
    "accelerator",
    "state",
    "metric",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "throughput /s",
    "peak memory MiB",
    "energy J/inf",
    "result",
)


def cells(r: CompareRow) -> list[str]:
    mem = r.peak_memory_bytes / 2**20 if r.peak_memory_bytes is not None else None
    return [
        r.validation_id,
        r.model_sha256[:12],
        r.accelerator,
        r.state,
        _n(r.metric, 4),
        _n(r.p50_ms, 3),
        _n(r.p90_ms, 3),
        _n(r.p99_ms, 3),
        _n(r.throughput_per_s, 1),
        _n(mem, 1),
        _n(r.energy_j_per_inference, 4),
        r.integrity,
    ]


def _n(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"
