"""Comparison: a validation's runs across accelerators, beside the runs of the other
versions (by SHA-256) of the same model name in its organisation that the caller may
read, all judged against this validation's targets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aidc.core.tenancy import Principal
from aidc.core.validation_targets import peak_memory
from aidc.schemas_validation import CompareRow, CompareView
from aidc.services.center import Center
from aidc.services.validations_ingest import catch_up
from aidc.services.validations_read import (
    _runs,
    integrity,
    may_read,
    readable,
    result_of,
    verdicts,
)
from aidc.store.models_validation import Validation

MAX_VERSIONS = 20


def compare(center: Center, p: Principal, validation_id: str) -> CompareView:
    with center.db.read() as s:
        v = readable(s, p, validation_id)
        q = (
            select(Validation)
            .where(
                Validation.model_name == v.model_name,
                Validation.org_id == v.org_id,
                Validation.id != v.id,
            )
            .order_by(Validation.created_at.desc())
            .limit(MAX_VERSIONS)
        )
        others = [o.id for o in s.scalars(q) if may_read(s, p, o)]
    for vid in [validation_id, *others]:
        catch_up(center, vid)
    with center.db.read() as s:
        v = readable(s, p, validation_id)
        rows: list[CompareRow] = []
        for vid in [validation_id, *others]:
            of = s.get_one(Validation, vid)
            for run in _runs(s, of):
                result = result_of(run)
                rows.append(_row(of, v, run.accelerator, run.state, integrity(run), result))
        return CompareView(
            validation_id=v.id,
            model_name=v.model_name,
            metric=v.metric,
            targets=list(v.targets),
            rows=rows,
        )


def _row(
    of: Validation,
    judge: Validation,
    accelerator: str,
    state: str,
    integrity_: str,
    r: dict[str, Any] | None,
) -> CompareRow:
    r = r or {}
    single = (r.get("scenarios") or {}).get("single-stream") or {}
    offline = (r.get("scenarios") or {}).get("offline") or {}
    metric = r.get("metric") or {}
    return CompareRow(
        validation_id=of.id,
        model_sha256=of.model_sha256,
        accelerator=accelerator,
        state=state,
        integrity=integrity_,
        metric=_f(metric.get("value")),
        p50_ms=_f(single.get("p50_ms")),
        p90_ms=_f(single.get("p90_ms")),
        p99_ms=_f(single.get("p99_ms")),
        throughput_per_s=_f(offline.get("throughput_per_s")),
        peak_memory_bytes=peak_memory(r) if r else None,
        energy_j_per_inference=_f((r.get("power") or {}).get("energy_j_per_inference")),
        verdicts=verdicts(judge, r) if r else [],
        environment=r.get("environment") or {},
    )


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
