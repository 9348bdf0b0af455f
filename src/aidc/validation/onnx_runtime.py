"""The built-in runtime: ONNX Runtime on the CPU, or its CUDA execution provider.

``cuda`` is served only by the CUDA execution provider: where onnxruntime lacks it, or where
ONNX Runtime would quietly put the model on the CPU instead, loading fails with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy.typing as npt

from aidc.validation.runtimes import Availability, RuntimeUnavailable, SessionInfo

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
# ONNX Runtime's default is one thread per core of the host, not of the job's share of it.
THREADS_ENV = "AIDC_VALIDATION_THREADS"


def session_options() -> Any:
    """ONNX Runtime's defaults, with $AIDC_VALIDATION_THREADS intra-op threads if set."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = os.environ.get(THREADS_ENV, "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise RuntimeUnavailable(f"{THREADS_ENV}={threads!r} is not a thread count (1 or more)")
        options.intra_op_num_threads = int(threads)
    return options


class OnnxRuntime:
    name = "onnxruntime"
    devices = ("cpu", "cuda")

    def available(self, device: str) -> Availability:
        if device not in PROVIDERS:
            return Availability(False, f"onnxruntime serves {', '.join(self.devices)}")
        try:
            import onnxruntime as ort
        except ImportError:
            return Availability(
                False, "onnxruntime is not installed: pip install 'aidc[validation]'"
            )
        offered = ort.get_available_providers()
        if PROVIDERS[device] not in offered:
            return Availability(
                False,
                f"onnxruntime {ort.__version__} offers {', '.join(offered)}, not "
                f"{PROVIDERS[device]} (it needs the onnxruntime-gpu package and an NVIDIA driver)",
            )
        return Availability(True)

    def load(self, model_path: Path, device: str) -> OnnxSession:
        avail = self.available(device)
        if not avail.ok:
            raise RuntimeUnavailable(avail.reason)
        import onnxruntime as ort

        wanted = PROVIDERS[device]
        session = ort.InferenceSession(str(model_path), session_options(), providers=[wanted])
        used = session.get_providers()
        if not used or used[0] != wanted:
            raise RuntimeUnavailable(
                f"onnxruntime could not start {wanted} and would run on {', '.join(used)}"
            )
        return OnnxSession(session, device, wanted, ort.__version__)


class OnnxSession:
    def __init__(self, session: Any, device: str, provider: str, version: str) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self._outputs = [session.get_outputs()[0].name]
        self._info = SessionInfo("onnxruntime", version, provider, device)

    def run(self, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        out: npt.NDArray[Any] = self._session.run(self._outputs, {self._input: batch})[0]
        return out

    def info(self) -> SessionInfo:
        return self._info
