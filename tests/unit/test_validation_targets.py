"""Validation targets (parse, evaluate) and the canonical content hash of results."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aidc.core.validation_targets import (
    SCHEMA,
    TargetError,
    canonical_json,
    content_hash,
    evaluate,
    parse_target,
    result_problem,
    unmeasurable,
)


def _result(p99: float = 12.0, top1: float = 0.8, tput: float = 600.0) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "model": {"file": "model.onnx", "sha256": "a" * 64, "bytes": 10},
        "dataset": {"sha256": "b" * 64, "samples": 10},
        "metric": {"name": "top1", "value": top1, "correct": 8, "samples": 10},
        "scenarios": {
            "single-stream": {
                "batch": 1,
                "queries": 3,
                "latencies_ms": [1.0, 2.0, p99],
                "p50_ms": 2.0,
                "p90_ms": p99,
                "p99_ms": p99,
                "mean_ms": 5.0,
            },
            "offline": {
                "batch": 8,
                "samples": 80,
                "seconds": 0.1,
                "throughput_per_s": tput,
                "search": [],
            },
        },
        "warmup": {"seconds": 0.1, "queries": 3},
        "memory": {"peak_rss_bytes": 2_000_000, "peak_device_bytes": None},
        "power": {"source": None, "mean_w": None, "energy_j": None, "energy_j_per_inference": None},
        "runtime": {"name": "onnxruntime", "version": "1", "provider": "CPU", "device": "cpu"},
        "environment": {
            "node": "n",
            "os": "linux",
            "python": "3.11",
            "accelerator": {"type": "cpu", "model": "x", "driver": None},
            "libraries": {},
        },
        "started_at": 1.0,
        "ended_at": 2.0,
    }


@pytest.mark.parametrize(
    ("text", "quantity", "value"),
    [
        ("p99<=20ms", "p99", 20.0),
        ("p50 < 5 ms", "p50", 5.0),
        ("p90<=0.02s", "p90", 20.0),
        ("mean<500us", "mean", 0.5),
        ("top1>=0.76", "top1", 0.76),
        ("top5>=90%", "top5", 0.9),
        ("throughput>=500/s", "throughput", 500.0),
        ("throughput>500", "throughput", 500.0),
        ("energy<=0.5J", "energy", 0.5),
        ("memory<=2GiB", "memory", 2 * 1024**3),
    ],
)
def test_parse_accepted_forms(text: str, quantity: str, value: float) -> None:
    t = parse_target(text)
    assert (t.quantity, t.value) == (quantity, pytest.approx(value))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("p99<=20", "p99 takes ms"),
        ("latency<=20ms", "unknown quantity 'latency'"),
        ("top1>=1.5", "at most 1"),
        ("p99=20ms", "QUANTITY OP NUMBER"),
        ("throughput>=5ms", "samples per second"),
        ("", "QUANTITY OP NUMBER"),
    ],
)
def test_parse_errors_name_the_target_and_forms(text: str, says: str) -> None:
    with pytest.raises(TargetError) as e:
        parse_target(text)
    assert says in str(e.value) and repr(text) in str(e.value)


def test_evaluate_pass_fail_and_unmeasured() -> None:
    targets = [
        parse_target(t) for t in ("p99<=20ms", "top1>=0.9", "throughput>=500/s", "energy<=1J")
    ]
    verdicts = evaluate(targets, _result())
    assert [(v.measured, v.passed) for v in verdicts] == [
        (12.0, True),
        (0.8, False),
        (600.0, True),
        (None, False),  # no power reading: not measured, so not met
    ]


def test_unmeasurable_says_which_option() -> None:
    assert "--scenario single-stream" in (
        unmeasurable(parse_target("p99<=1ms"), "top1", ["offline"]) or ""
    )
    assert "--metric" in (unmeasurable(parse_target("top5>=0.5"), "top1", ["offline"]) or "")
    assert unmeasurable(parse_target("top1>=0.5"), "top1", ["offline"]) is None


def test_result_shape() -> None:
    r = _result()
    assert result_problem(r, ["single-stream", "offline"]) is None
    del r["scenarios"]["offline"]
    assert "offline" in (result_problem(r, ["offline"]) or "")
    del r["power"]
    assert "power" in (result_problem(r, []) or "")
    assert result_problem([], []) is not None


@given(
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.sampled_from(["<=", "<", ">=", ">"]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_latency_target_agrees_with_the_comparison(bound: float, op: str, p99: float) -> None:
    t = parse_target(f"p99{op}{bound!r}ms")
    [v] = evaluate([t], _result(p99=p99))
    expected = {"<=": p99 <= bound, "<": p99 < bound, ">=": p99 >= bound, ">": p99 > bound}[op]
    assert v.passed is expected and v.measured == p99


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_hash_is_over_canonical_json_and_ignores_key_order(obj: dict[str, Any]) -> None:
    text = canonical_json(obj)
    assert json.loads(text) == obj
    assert content_hash(obj) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    shuffled = dict(reversed(list(obj.items())))
    assert content_hash(shuffled) == content_hash(obj)
    # what is stored as text re-hashes to the same value
    assert content_hash(json.loads(text)) == content_hash(obj)


@given(st.dictionaries(st.text(min_size=1), st.integers(), min_size=1, max_size=6), st.integers())
def test_any_change_changes_the_hash(obj: dict[str, int], delta: int) -> None:
    key = sorted(obj)[0]
    changed = obj | {key: obj[key] + (delta or 1)}
    assert content_hash(changed) != content_hash(obj)


def test_canonical_form_is_compact_sorted_utf8() -> None:
    assert canonical_json({"b": 1, "a": "한"}) == '{"a":"한","b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
