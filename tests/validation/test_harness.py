"""The harness as a real subprocess on the generated model and dataset (ONNX Runtime, CPU)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aidc.core.validation_targets import result_problem
from aidc.validation.harness import main as harness_main
from tests.validation.conftest import QUICK, Files, harness, run_ok
from tests.validation_models import reference_logits, weights

CONTRACT_KEYS = {
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
}
NESTED = {
    "model": {"file", "sha256", "bytes"},
    "dataset": {"sha256", "samples"},
    "metric": {"name", "value", "correct", "samples"},
    "warmup": {"seconds", "queries"},
    "memory": {"peak_rss_bytes", "peak_device_bytes"},
    "power": {"source", "mean_w", "energy_j", "energy_j_per_inference"},
    "runtime": {"name", "version", "provider", "device"},
    "environment": {"node", "os", "python", "accelerator", "libraries"},
}
SINGLE = {"batch", "queries", "latencies_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms"}
OFFLINE = {"batch", "samples", "seconds", "throughput_per_s", "search"}


@pytest.fixture(scope="module")
def result(files: Files, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("out") / "RESULT.json"
    return run_ok(
        files, out, "--metric", "top1", "--scenario", "single-stream", "--scenario", "offline"
    )


def nearest_rank(values: list[float], p: int) -> float:
    return sorted(values)[max(1, math.ceil(p * len(values) / 100)) - 1]


def test_every_contract_key_is_there(result: dict[str, Any]) -> None:
    assert set(result) == CONTRACT_KEYS
    # ... and what the service ingests (the two sides meet here).
    assert result_problem(result, ["single-stream", "offline"]) is None
    assert result["schema"] == "aidc.validation.result/1"
    for key, inner in NESTED.items():
        assert set(result[key]) == inner, key
    assert set(result["scenarios"]) == {"single-stream", "offline"}
    assert set(result["scenarios"]["single-stream"]) == SINGLE
    assert set(result["scenarios"]["offline"]) == OFFLINE
    assert set(result["environment"]["accelerator"]) == {"type", "model", "driver"}
    assert result["environment"]["accelerator"]["type"] == "cpu"
    assert result["runtime"]["provider"] == "CPUExecutionProvider"
    assert result["power"]["source"] is None  # no GPU: nothing reports power here
    assert result["memory"]["peak_rss_bytes"] > 10 * 2**20
    assert result["started_at"] <= result["ended_at"]
    assert {"onnxruntime", "numpy", "onnx"} <= set(result["environment"]["libraries"])


def test_accuracy_equals_numpy_on_the_same_weights(result: dict[str, Any], files: Files) -> None:
    inputs = np.load(files.data / "inputs.npy")
    labels = np.load(files.data / "labels.npy")
    correct = int(np.count_nonzero(reference_logits(inputs, weights(0)).argmax(1) == labels))
    assert result["metric"] == {
        "name": "top1",
        "value": correct / len(labels),
        "correct": correct,
        "samples": len(labels),
    }
    assert 0 < correct < len(labels)


def test_percentiles_come_from_the_recorded_latencies(result: dict[str, Any]) -> None:
    ss = result["scenarios"]["single-stream"]
    lat = ss["latencies_ms"]
    assert ss["queries"] == len(lat) >= 40  # --min-queries
    for p in (50, 90, 99):
        assert ss[f"p{p}_ms"] == nearest_rank(lat, p)
    assert ss["mean_ms"] == pytest.approx(sum(lat) / len(lat))


def test_the_offline_run_and_its_search(result: dict[str, Any]) -> None:
    off = result["scenarios"]["offline"]
    batches = [s["batch"] for s in off["search"]]
    assert batches[0] == 1 and batches == sorted(batches) and batches[-1] <= 32
    best = max(off["search"], key=lambda s: s["throughput_per_s"])["batch"]
    assert off["batch"] == best
    assert off["samples"] >= 40 and off["samples"] % off["batch"] == 0
    assert off["seconds"] >= 0.1
    assert off["throughput_per_s"] == pytest.approx(off["samples"] / off["seconds"])


def test_checksums(result: dict[str, Any], files: Files) -> None:
    assert result["model"]["sha256"] == hashlib.sha256(files.model.read_bytes()).hexdigest()
    assert result["model"]["bytes"] == files.model.stat().st_size
    lines = "".join(
        f"{n}\t{hashlib.sha256((files.data / n).read_bytes()).hexdigest()}\n"
        for n in ("inputs.npy", "labels.npy")
    )
    assert result["dataset"] == {
        "sha256": hashlib.sha256(lines.encode()).hexdigest(),
        "samples": 512,
    }


def test_top5_and_one_scenario(files: Files, tmp_path: Path) -> None:
    r = run_ok(files, tmp_path / "r.json", "--metric", "top5", "--scenario", "offline")
    assert set(r["scenarios"]) == {"offline"}
    inputs, labels = np.load(files.data / "inputs.npy"), np.load(files.data / "labels.npy")
    order = np.argsort(-reference_logits(inputs, weights(0)), axis=1, kind="stable")[:, :5]
    correct = int(sum(label in row for row, label in zip(order, labels, strict=True)))
    assert (r["metric"]["name"], r["metric"]["correct"]) == ("top5", correct)


def _dataset(folder: Path, inputs: np.ndarray, labels: np.ndarray) -> str:
    folder.mkdir()
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", labels)
    return str(folder)


BAD: dict[str, tuple[str, Any]] = {
    "missing model": ("--model", lambda f, t: str(t / "missing.onnx")),
    "not onnx": ("--model", lambda f, t: str(f.data / "inputs.npy")),
    "no data folder": ("--data", lambda f, t: str(t / "nowhere")),
    "17 features for 16": (
        "--data",
        lambda f, t: _dataset(t / "wide", np.zeros((8, 17), np.float32), np.zeros(8, np.int64)),
    ),
    "float64 inputs": (
        "--data",
        lambda f, t: _dataset(t / "f64", np.zeros((8, 16)), np.zeros(8, np.int64)),
    ),
    "class 12 of 10": (
        "--data",
        lambda f, t: _dataset(t / "c12", np.zeros((8, 16), np.float32), np.full(8, 12)),
    ),
    "metric": ("--metric", lambda f, t: "top3"),
    "scenario": ("--scenario", lambda f, t: "server"),
    "runtime": ("--runtime", lambda f, t: "tensorrt"),
    # CPU-only onnxruntime: refused, never run on the CPU instead.
    "cuda": ("--device", lambda f, t: "cuda"),
    "device": ("--device", lambda f, t: "npu"),
    "min queries": ("--min-queries", lambda f, t: "0"),
    "max batch": ("--max-batch", lambda f, t: "many"),
    "out folder": ("--out", lambda f, t: str(t / "no" / "r.json")),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_naming_the_option(
    files: Files, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process (the same main() the command runs), so that 14 cases cost no 14 starts;
    # test_bad_input_as_a_process checks the real command's exit and stderr.
    option, value = BAD[case]
    out = tmp_path / "r.json"
    args = {"--model": str(files.model), "--data": str(files.data), "--out": str(out)}
    args[option] = value(files, tmp_path)
    code = harness_main([*[x for kv in args.items() for x in kv], *QUICK])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0], err
    assert not out.exists()  # nothing half-written


def test_bad_input_as_a_process(files: Files, tmp_path: Path) -> None:
    p = harness("--model", files.model, "--data", tmp_path, "--out", tmp_path / "r.json")
    assert p.returncode == 2
    assert p.stderr == f"harness: error: --data: inputs.npy is missing in {tmp_path}\n"


def test_list_runtimes() -> None:
    p = harness("--list-runtimes")
    assert p.returncode == 0
    assert "onnxruntime\tcpu\tavailable" in p.stdout
