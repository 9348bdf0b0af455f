"""Power, energy and device memory of the GPU a CUDA run uses, via NVML (nvidia-ml-py).

A thread samples the GPU's power draw (and this process's memory on it) while a scenario
runs. Energy is the GPU's own energy counter where it has one (Volta and later), otherwise
the mean sampled power times the run's length. Where NVML or a GPU is missing there is no
monitor, and the result says ``"source": null``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

INTERVAL_S = 0.05


@dataclass(frozen=True)
class PowerReading:
    mean_w: float | None
    energy_j: float | None
    peak_device_bytes: int | None


def _visible_index(nvml: Any) -> Any:
    """The NVML handle of CUDA device 0, the one the runtime uses (CUDA_VISIBLE_DEVICES's first)."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    if first.startswith(("GPU-", "MIG-")):
        return nvml.nvmlDeviceGetHandleByUUID(first)
    return nvml.nvmlDeviceGetHandleByIndex(int(first) if first.isdigit() else 0)


class NvmlMonitor:
    def __init__(self, nvml: Any, handle: Any) -> None:
        self._nvml, self._handle = nvml, handle
        self._samples: list[float] = []
        self._peak_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._energy0: int | None = None

    @classmethod
    def open(cls) -> NvmlMonitor | None:
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # ImportError, NVMLError_LibraryNotFound, DriverNotLoaded
            return None
        try:
            return cls(pynvml, _visible_index(pynvml))
        except Exception:
            pynvml.nvmlShutdown()
            return None

    def device(self) -> tuple[str, str]:
        """(model name, driver version)."""
        name = self._nvml.nvmlDeviceGetName(self._handle)
        driver = self._nvml.nvmlSystemGetDriverVersion()
        return _text(name), _text(driver)

    def _energy_mj(self) -> int | None:
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except Exception:
            return None

    def _sample(self) -> None:
        with contextlib.suppress(Exception):
            self._samples.append(self._nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0)
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
            mine = [p.usedGpuMemory for p in procs if p.pid == os.getpid() and p.usedGpuMemory]
            if mine:
                self._peak_bytes = max(self._peak_bytes or 0, int(mine[0]))
        except Exception:
            pass  # a container's other PID namespace: memory stays unknown

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._sample()

    def start(self) -> None:
        self._samples.clear()
        self._stop.clear()
        self._energy0 = self._energy_mj()
        self._t0 = time.perf_counter()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="aidc-nvml", daemon=True)
        self._thread.start()

    def stop(self) -> PowerReading:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        seconds = time.perf_counter() - self._t0
        mean_w = sum(self._samples) / len(self._samples) if self._samples else None
        energy1 = self._energy_mj()
        if self._energy0 is not None and energy1 is not None and energy1 > self._energy0:
            energy_j: float | None = (energy1 - self._energy0) / 1000.0
        else:
            energy_j = mean_w * seconds if mean_w is not None else None
        return PowerReading(mean_w, energy_j, self._peak_bytes)

    def close(self) -> None:
        self._nvml.nvmlShutdown()


def _text(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v
