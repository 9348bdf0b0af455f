"""A small ONNX classifier and a dataset for it, generated here (no download, no weights hub).

The model is an MLP: ``input`` [batch, features] float32 (the batch axis dynamic) ->
Gemm -> Relu -> ... -> Gemm -> ``logits`` [batch, classes]. Its weights come from a seeded
generator, so ``weights(seed)`` gives the same arrays that ``write_model(path, seed)`` wrote
and ``reference_logits`` recomputes its outputs with numpy alone (the independent check of
the harness's accuracy).

The dataset (``inputs.npy``, ``labels.npy``, the validation dataset format) has labels that
agree with the model on about 70 % of the samples, so accuracy is neither 0 nor 1.

    write_model(tmp / "model.onnx", seed=0)
    write_dataset(tmp / "data", samples=512, seed=0)
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

FEATURES = 16
HIDDEN = 32
CLASSES = 10
AGREEMENT = 0.7
MARGIN = 1e-3
# The real harness with short runs, for tests that run validations through the service.
SHORT_HARNESS = (
    f"{sys.executable} -m aidc.validation.harness"
    " --warmup-s 0.1 --min-duration-s 0.2 --min-queries 32"
)


def weights(
    seed: int = 0,
    features: int = FEATURES,
    hidden: int = HIDDEN,
    classes: int = CLASSES,
    layers: int = 2,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (W [in, out], b [out]) of each Gemm layer, as ``write_model`` writes them."""
    rng = np.random.default_rng(seed)
    sizes = [features] + [hidden] * (layers - 1) + [classes]
    out = []
    for n_in, n_out in itertools.pairwise(sizes):
        w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        b = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
        out.append((w, b))
    return out


def reference_logits(inputs: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The MLP's outputs computed with numpy matmuls (no ONNX involved)."""
    x = inputs.astype(np.float32)
    for i, (w, b) in enumerate(layers):
        x = x @ w + b
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


def write_model(
    path: Path,
    seed: int = 0,
    features: int = FEATURES,
    hidden: int = HIDDEN,
    classes: int = CLASSES,
    layers: int = 2,
) -> Path:
    """Write the MLP as an ONNX file at ``path`` and return the path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    params = weights(seed, features, hidden, classes, layers)
    nodes, inits = [], []
    x = "input"
    for i, (w, b) in enumerate(params):
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        last = i == len(params) - 1
        y = "logits" if last else f"h{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], name=f"gemm{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"{y}_relu"], name=f"relu{i}"))
            y = f"{y}_relu"
        x = y
    graph = helper.make_graph(
        nodes,
        "aidc-test-mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        inits,
    )
    # Opset 17 and IR 8: what every ONNX Runtime since 1.13 reads.
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="aidc-tests"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_dataset(
    samples: int = 512,
    seed: int = 0,
    features: int = FEATURES,
    hidden: int = HIDDEN,
    classes: int = CLASSES,
    layers: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs float32 [samples, features], labels int64 [samples]) for the seed's model."""
    rng = np.random.default_rng(seed + 1_000_003)
    inputs = rng.standard_normal((2 * samples + 16, features)).astype(np.float32)
    logits = reference_logits(inputs, weights(seed, features, hidden, classes, layers))
    if classes > 1:
        # Only clear winners: a float rounding difference between runtimes must never change
        # which class is the top one (nor so the accuracy the tests compare).
        top2 = np.sort(logits, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > MARGIN
        inputs, logits = inputs[clear], logits[clear]
    if len(inputs) < samples:
        raise ValueError(f"too few samples with a clear top class for seed {seed}")
    inputs, predicted = inputs[:samples], logits[:samples].argmax(1)
    wrong = (predicted + rng.integers(1, classes, samples)) % classes if classes > 1 else predicted
    labels = np.where(rng.random(samples) < AGREEMENT, predicted, wrong).astype(np.int64)
    return inputs, labels


def write_dataset(
    folder: Path,
    samples: int = 512,
    seed: int = 0,
    features: int = FEATURES,
    hidden: int = HIDDEN,
    classes: int = CLASSES,
    layers: int = 2,
) -> Path:
    """Write ``inputs.npy`` and ``labels.npy`` into ``folder`` and return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    inputs, labels = make_dataset(samples, seed, features, hidden, classes, layers)
    np.save(folder / "inputs.npy", inputs)
    np.save(folder / "labels.npy", labels)
    return folder
