"""On a host with an NVIDIA GPU and onnxruntime-gpu: the harness on ``--device cuda``.

Skips elsewhere (CI has no GPU, and the validation extra installs the CPU onnxruntime).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aidc.inventory.nvml import discover_nvidia_gpus
from tests.validation.conftest import QUICK, harness
from tests.validation_models import reference_logits, weights, write_dataset, write_model

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(
    not discover_nvidia_gpus() or "CUDAExecutionProvider" not in ort.get_available_providers(),
    reason="no NVIDIA GPU, or onnxruntime without the CUDA execution provider",
)


def test_the_harness_on_cuda_reports_the_gpu_and_its_power(tmp_path: Path) -> None:
    model, data = write_model(tmp_path / "m.onnx"), write_dataset(tmp_path / "data")
    out = tmp_path / "r.json"
    p = harness("--model", model, "--data", data, "--out", out, "--device", "cuda", *QUICK)
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert r["runtime"]["provider"] == "CUDAExecutionProvider"
    gpu = r["environment"]["accelerator"]
    assert gpu["driver"] and gpu["model"] == discover_nvidia_gpus()[0].name
    assert r["power"]["source"] == "nvml" and r["power"]["mean_w"] > 0
    assert r["power"]["energy_j_per_inference"] > 0
    inputs, labels = np.load(data / "inputs.npy"), np.load(data / "labels.npy")
    correct = int(np.count_nonzero(reference_logits(inputs, weights(0)).argmax(1) == labels))
    assert r["metric"]["correct"] == correct
    print("cuda result:", {k: r[k] for k in ("power", "memory", "runtime")}, gpu)
