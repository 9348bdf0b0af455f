"""The harness's parts: batching, the fixed-batch-axis path, the dataset format's checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from aidc.validation import dataset_format, scenarios
from aidc.validation.harness import main as harness_main
from tests.validation.conftest import QUICK, Files
from tests.validation_models import reference_logits, weights


def test_batches_cover_the_dataset_and_wrap() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    got = scenarios.batches(x, 4)
    assert [b[:, 0].tolist() for b in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert np.shares_memory(got[0], x)  # views, not copies, where no wrap is needed
    assert [b[:, 0].tolist() for b in scenarios.batches(x[:3], 5)] == [[0, 1, 2, 0, 1]]


def test_score_all_pads_a_fixed_batch_and_drops_the_padding() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    seen: list[int] = []

    def run(batch: np.ndarray) -> np.ndarray:
        seen.append(len(batch))
        return np.concatenate([batch, -batch], axis=1)

    scores = scenarios.score_all(run, x, 4, fixed=True)
    assert seen == [4, 4, 4] and scores[:, 0].tolist() == list(range(10))
    seen.clear()
    assert len(scenarios.score_all(run, x, 4, fixed=False)) == 10 and seen == [4, 4, 2]
    with pytest.raises(ValueError, match=r"\[batch, classes\]"):
        scenarios.score_all(lambda b: b[:, 0], x, 4, fixed=False)


def test_a_fixed_batch_model(
    files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = onnx.load(str(files.model))
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = 8
    fixed = tmp_path / "fixed8.onnx"
    onnx.save(model, str(fixed))
    base = ["--model", str(fixed), "--data", str(files.data), *QUICK]
    out = tmp_path / "r.json"
    assert harness_main([*base, "--out", str(out), "--scenario", "single-stream"]) == 2
    assert (
        "--scenario: single-stream needs batch 1; the model's batch is 8" in capsys.readouterr().err
    )
    assert harness_main([*base, "--out", str(out), "--scenario", "offline"]) == 0
    r = json.loads(out.read_text())
    assert [s["batch"] for s in r["scenarios"]["offline"]["search"]] == [8]
    assert r["scenarios"]["offline"]["batch"] == 8
    inputs, labels = np.load(files.data / "inputs.npy"), np.load(files.data / "labels.npy")
    correct = int(np.count_nonzero(reference_logits(inputs, weights(0)).argmax(1) == labels))
    assert r["metric"]["correct"] == correct  # 512 = 64 x 8: and padding never counts


def test_dataset_format_refusals(tmp_path: Path) -> None:
    def save(name: str, inputs: object, labels: object) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        np.save(folder / "inputs.npy", inputs)
        np.save(folder / "labels.npy", labels)
        return folder

    cases = {
        "count": (np.zeros((3, 2), np.float32), np.zeros(4, np.int64), "3 samples but"),
        "empty": (np.zeros((0, 2), np.float32), np.zeros(0, np.int64), "no samples"),
        "negative": (np.zeros((2, 2), np.float32), np.array([0, -1]), "negative"),
        "float labels": (np.zeros((2, 2), np.float32), np.zeros(2), "one integer per sample"),
    }
    for name, (inputs, labels, message) in cases.items():
        with pytest.raises(dataset_format.DatasetError, match=message):
            dataset_format.load(save(name, inputs, labels))
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "inputs.npy").write_bytes(b"not numpy")
    with pytest.raises(dataset_format.DatasetError, match="not a readable"):
        dataset_format.load(tmp_path / "garbage")


def test_a_bad_thread_count_is_refused(
    files: Files,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIDC_VALIDATION_THREADS", "lots")
    argv = ["--model", str(files.model), "--data", str(files.data), "--out", str(tmp_path / "r")]
    assert harness_main([*argv, *QUICK]) == 2
    assert "AIDC_VALIDATION_THREADS='lots' is not a thread count" in capsys.readouterr().err
