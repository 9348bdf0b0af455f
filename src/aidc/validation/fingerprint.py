"""The environment a validation ran in: node, OS, Python, accelerator and driver, libraries."""

from __future__ import annotations

import contextlib
import platform
import socket
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aidc.core import accelerators
from aidc.validation.power import NvmlMonitor
from aidc.validation.runtimes import SessionInfo

LIBRARIES = ("onnxruntime", "onnxruntime-gpu", "numpy", "onnx")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def library_versions(info: SessionInfo) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            if name != "onnxruntime-gpu":  # one of the two onnxruntime wheels is expected
                found[name] = None
    if found.get("onnxruntime") is None and "onnxruntime-gpu" in found:
        found["onnxruntime"] = found["onnxruntime-gpu"]
    found.setdefault(info.name, info.version)
    return found


def accelerator(device: str, info: SessionInfo, gpu: NvmlMonitor | None) -> dict[str, Any]:
    if device == "cpu":
        return {"type": "cpu", "model": cpu_model(), "driver": None}
    if device == "cuda" and gpu is not None:
        model, driver = gpu.device()
        return {
            "type": accelerators.type_for_device_name(model).name,
            "model": model,
            "driver": driver,
        }
    # A plug-in's device: only its runtime knows the hardware.
    return {"type": device, "model": info.accelerator_model, "driver": info.driver}


def environment(device: str, info: SessionInfo, gpu: NvmlMonitor | None) -> dict[str, Any]:
    return {
        "node": socket.gethostname(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "accelerator": accelerator(device, info, gpu),
        "libraries": library_versions(info),
    }
