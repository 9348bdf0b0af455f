"""The runtime plug-in interface: the example plug-in pip-installed and found by entry point,
the registry's refusals, and the built-in's CUDA refusal on a CPU-only onnxruntime."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aidc.validation import runtimes as rt
from aidc.validation.onnx_runtime import OnnxRuntime
from tests.validation.conftest import Files, harness, run_ok
from tests.validation_models import reference_logits, weights

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "validation-runtime-plugin"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plug-in installed by pip into a folder of its own (put on PYTHONPATH)."""
    tmp = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE, tmp / "src")  # pip's build leaves files beside it
    target = tmp / "site"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            target,
            source,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if p.returncode != 0:
        pytest.fail(f"pip could not install the example plug-in: {p.stderr[-2000:]}")
    return target


def test_the_registry_finds_the_installed_plugin(plugin_path: Path) -> None:
    p = harness("--list-runtimes", env={"PYTHONPATH": str(plugin_path)})
    assert p.returncode == 0, p.stderr
    assert "onnx-reference\treference\tavailable" in p.stdout.splitlines()
    assert "onnx-reference" not in harness("--list-runtimes").stdout  # not without it


def test_the_harness_runs_a_model_on_the_plugin(
    plugin_path: Path, files: Files, tmp_path: Path
) -> None:
    env = {"PYTHONPATH": str(plugin_path)}
    r: dict[str, Any] = run_ok(
        files, tmp_path / "r.json", "--runtime", "onnx-reference", "--device", "reference", env=env
    )
    assert r["runtime"] == {
        "name": "onnx-reference",
        "version": r["environment"]["libraries"]["onnx"],
        "provider": "onnx.reference.ReferenceEvaluator",
        "device": "reference",
    }
    assert r["environment"]["accelerator"]["type"] == "reference"
    inputs, labels = np.load(files.data / "inputs.npy"), np.load(files.data / "labels.npy")
    correct = int(np.count_nonzero(reference_logits(inputs, weights(0)).argmax(1) == labels))
    assert r["metric"]["correct"] == correct
    assert r["scenarios"]["single-stream"]["queries"] >= 40
    # The plug-in serves only its device.
    p = harness(
        *("--model", files.model, "--data", files.data, "--out", tmp_path / "x.json"),
        *("--runtime", "onnx-reference", "--device", "cpu"),
        env=env,
    )
    assert p.returncode == 2 and p.stderr.startswith("harness: error: --device: onnx-reference")


def test_a_broken_plugin_is_named(files: Files, tmp_path: Path) -> None:
    # A real entry point whose module does not import: the user learns which plug-in it is.
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[aidc.validation_runtimes]\nbroken = no_such_module_here:Runtime\n"
    )
    p = harness(
        *("--model", files.model, "--data", files.data, "--out", tmp_path / "r.json"),
        *("--runtime", "broken"),
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert p.returncode == 2
    assert p.stderr.startswith("harness: error: --runtime: plug-in 'broken'"), p.stderr
    assert "no_such_module_here" in p.stderr and len(p.stderr.splitlines()) == 1
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(rt.PluginBroken, match="'broken'"):
            rt.get_runtime("broken")
        assert "broken" in rt.runtime_names()
    finally:
        sys.path.remove(str(tmp_path))


def test_unknown_runtime_lists_the_installed_ones() -> None:
    with pytest.raises(rt.UnknownRuntime, match="installed: onnxruntime"):
        rt.get_runtime("tensorrt")


def test_cuda_is_refused_without_the_cuda_provider(files: Files) -> None:
    import onnxruntime as ort

    runtime = OnnxRuntime()
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider (tests/gpu covers it)")
    avail = runtime.available("cuda")
    assert not avail.ok and "CUDAExecutionProvider" in avail.reason
    with pytest.raises(rt.RuntimeUnavailable):
        runtime.load(files.model, "cuda")
    session = runtime.load(files.model, "cpu")
    x = np.load(files.data / "inputs.npy")[:4]
    np.testing.assert_allclose(session.run(x), reference_logits(x, weights(0)), atol=1e-5)
    assert session.info().provider == "CPUExecutionProvider"
