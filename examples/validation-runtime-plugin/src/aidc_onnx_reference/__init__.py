"""An aidc validation runtime that runs ONNX models with onnx's reference evaluator.

It is slow (pure Python and numpy) and exact: a real runtime that executes the model's graph
operator by operator, on a device named ``reference`` (the host's CPU). A vendor's NPU plug-in
has the same shape, with its SDK's compile and execute calls in ``load`` and ``run``.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np

from aidc.validation.runtimes import Availability, RuntimeUnavailable, SessionInfo

DEVICE = "reference"


class ReferenceRuntime:
    name = "onnx-reference"
    devices = (DEVICE,)

    def available(self, device: str) -> Availability:
        if device != DEVICE:
            return Availability(False, f"{self.name} serves only {DEVICE!r}")
        try:
            import onnx.reference  # noqa: F401
        except ImportError:
            return Availability(False, "onnx>=1.13 (its reference evaluator) is not installed")
        return Availability(True)

    def load(self, model_path: Path, device: str) -> ReferenceSession:
        avail = self.available(device)
        if not avail.ok:
            raise RuntimeUnavailable(avail.reason)
        import onnx
        from onnx.reference import ReferenceEvaluator

        model = onnx.load(str(model_path))
        return ReferenceSession(ReferenceEvaluator(model), model, onnx.__version__)


class ReferenceSession:
    def __init__(self, evaluator: Any, model: Any, version: str) -> None:
        initialised = {t.name for t in model.graph.initializer}
        self._input = next(i.name for i in model.graph.input if i.name not in initialised)
        self._outputs = [model.graph.output[0].name]
        self._evaluator = evaluator
        self._info = SessionInfo(
            name="onnx-reference",
            version=version,
            provider="onnx.reference.ReferenceEvaluator",
            device=DEVICE,
            # The harness asks the runtime about devices it cannot query itself.
            accelerator_model=f"host CPU ({platform.machine()})",
            driver=None,
        )

    def run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._evaluator.run(self._outputs, {self._input: batch})[0])

    def info(self) -> SessionInfo:
        return self._info
