"""Targets a tenant states for a validation (``p99<=20ms``, ``top1>=0.76``,
``throughput>=500/s``), evaluated against a run's result, and the content hash that makes
every stored result tamper-evident.

Pure: no I/O. A result is the harness's RESULT.json (schema ``aidc.validation.result/1``,
docs/validation.md) as a parsed JSON object.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

SCHEMA = "aidc.validation.result/1"
METRICS = ("top1", "top5")
SCENARIOS = ("single-stream", "offline")
LATENCY = ("p50", "p90", "p99", "mean")
QUANTITIES = (*LATENCY, "throughput", *METRICS, "energy", "memory")
OPS = ("<=", ">=", "<", ">")
FORMS = (
    "p50|p90|p99|mean <op> N ms|s|us (p99<=20ms), throughput <op> N[/s] (throughput>=500/s), "
    "top1|top5 <op> N or N% (top1>=0.76), energy <op> N J (per inference), "
    "memory <op> N B|KB|MB|GB|KiB|MiB|GiB; <op> is one of <=, <, >=, >"
)
_TARGET = re.compile(
    r"^\s*([a-z0-9]+)\s*(<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([a-z%/]*)\s*\Z",
    re.IGNORECASE,
)
_TIME_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001}
_BYTES = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
# Required keys of a result, by level (every key is always present in the contract).
TOP_KEYS = (
    "schema",
    "model",
    "dataset",
    "metric",
    "scenarios",
    "warmup",
    "memory",
    "power",
    "runtime",
    "environment",
    "started_at",
    "ended_at",
)
_NESTED = {
    "model": ("file", "sha256", "bytes"),
    "dataset": ("sha256", "samples"),
    "metric": ("name", "value", "correct", "samples"),
    "memory": ("peak_rss_bytes", "peak_device_bytes"),
    "power": ("source", "mean_w", "energy_j", "energy_j_per_inference"),
    "runtime": ("name", "version", "provider", "device"),
    "environment": ("node", "os", "python", "accelerator", "libraries"),
}
_SCENARIO_KEYS = {
    "single-stream": ("batch", "queries", "latencies_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms"),
    "offline": ("batch", "samples", "seconds", "throughput_per_s", "search"),
}


class TargetError(ValueError):
    """A target that cannot be read; the message names it and the accepted forms."""


@dataclass(frozen=True)
class Target:
    quantity: str  # one of QUANTITIES
    op: str  # one of OPS
    value: float  # in the canonical unit: ms, /s, fraction, J per inference, bytes
    text: str  # as the tenant wrote it

    def holds(self, measured: float) -> bool:
        if self.op == "<=":
            return measured <= self.value
        if self.op == "<":
            return measured < self.value
        if self.op == ">=":
            return measured >= self.value
        return measured > self.value


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: float | None  # None: the run did not measure it
    passed: bool


def parse_target(text: str) -> Target:
    m = _TARGET.match(text)
    if m is None:
        raise TargetError(f"target {text!r} is not of the form QUANTITY OP NUMBER[UNIT]: {FORMS}")
    quantity, op, number, unit = m.group(1).lower(), m.group(2), float(m.group(3)), m.group(4)
    unit = unit.lower()
    if quantity not in QUANTITIES:
        raise TargetError(f"target {text!r}: unknown quantity {quantity!r}; {FORMS}")
    value = _canonical(text, quantity, number, unit)
    return Target(quantity=quantity, op=op, value=value, text=text.strip())


def _canonical(text: str, quantity: str, number: float, unit: str) -> float:
    def bad(accepted: str) -> TargetError:
        return TargetError(
            f"target {text!r}: unit {unit or '(none)'!r}; {quantity} takes {accepted}"
        )

    if quantity in LATENCY:
        if unit not in _TIME_MS:
            raise bad("ms, s or us (p99<=20ms)")
        return number * _TIME_MS[unit]
    if quantity == "throughput":
        if unit not in ("", "/s"):
            raise bad("samples per second, written N or N/s (throughput>=500/s)")
        return number
    if quantity in METRICS:
        if unit == "%":
            number /= 100.0
        elif unit:
            raise bad("a fraction or a percentage (top1>=0.76 or top1>=76%)")
        if number > 1.0:
            raise TargetError(f"target {text!r}: accuracy is at most 1 (or 100%)")
        return number
    if quantity == "energy":
        if unit not in ("", "j"):
            raise bad("joules per inference (energy<=0.5J)")
        return number
    if unit not in _BYTES:
        raise bad("B, KB, MB, GB, KiB, MiB or GiB (memory<=2GiB)")
    return number * _BYTES[unit]


def parse_targets(texts: list[str]) -> list[Target]:
    """Every target, or a TargetError naming the first that cannot be read."""
    return [parse_target(t) for t in texts]


def unmeasurable(t: Target, metric: str, scenarios: list[str]) -> str | None:
    """Why a validation with this metric and these scenarios can never measure ``t``."""
    if t.quantity in LATENCY and "single-stream" not in scenarios:
        return f"target {t.text!r} needs the single-stream scenario (--scenario single-stream)"
    if t.quantity == "throughput" and "offline" not in scenarios:
        return f"target {t.text!r} needs the offline scenario (--scenario offline)"
    if t.quantity in METRICS and t.quantity != metric:
        return f"target {t.text!r} is on {t.quantity} but the metric is {metric} (--metric)"
    return None


def measured(t: Target, result: dict[str, Any]) -> float | None:
    """The quantity ``t`` names, as the result measured it (canonical unit), or None."""
    q = t.quantity
    scenarios = result.get("scenarios") or {}
    if q in LATENCY:
        return _number((scenarios.get("single-stream") or {}).get(f"{q}_ms"))
    if q == "throughput":
        return _number((scenarios.get("offline") or {}).get("throughput_per_s"))
    if q in METRICS:
        metric = result.get("metric") or {}
        return _number(metric.get("value")) if metric.get("name") == q else None
    if q == "energy":
        return _number((result.get("power") or {}).get("energy_j_per_inference"))
    return peak_memory(result)


def peak_memory(result: dict[str, Any]) -> float | None:
    """The device's peak memory where the device reports it, else the process's peak RSS."""
    memory = result.get("memory") or {}
    device = _number(memory.get("peak_device_bytes"))
    return device if device is not None else _number(memory.get("peak_rss_bytes"))


def evaluate(targets: list[Target], result: dict[str, Any]) -> list[Verdict]:
    """Pass or fail per target; a quantity the run did not measure fails."""
    out = []
    for t in targets:
        value = measured(t, result)
        out.append(Verdict(t.text, value, value is not None and t.holds(value)))
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


# -- results: their shape and their content hash -----------------------------------------


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, non-ASCII kept as such (encoded UTF-8 for hashing); NaN and
    infinities refused, since JSON has no way to write them."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def content_hash(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def result_problem(obj: Any, scenarios: list[str]) -> str | None:
    """Why ``obj`` is not a result of the contract's schema for these scenarios, or None."""
    if not isinstance(obj, dict):
        return "the result is not a JSON object"
    if obj.get("schema") != SCHEMA:
        return f"schema is {obj.get('schema')!r}, not {SCHEMA!r}"
    missing = [k for k in TOP_KEYS if k not in obj]
    if missing:
        return f"the result lacks {', '.join(missing)}"
    for key, inner in _NESTED.items():
        part = obj[key]
        if not isinstance(part, dict):
            return f"{key} is not an object"
        gone = [k for k in inner if k not in part]
        if gone:
            return f"{key} lacks {', '.join(gone)}"
    ran = obj["scenarios"]
    if not isinstance(ran, dict):
        return "scenarios is not an object"
    for name in scenarios:
        part = ran.get(name)
        if not isinstance(part, dict):
            return f"scenario {name} was asked for but is not in the result"
        gone = [k for k in _SCENARIO_KEYS.get(name, ()) if k not in part]
        if gone:
            return f"scenarios.{name} lacks {', '.join(gone)}"
    return None
