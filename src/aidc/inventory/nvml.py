"""NVIDIA GPUs through NVML (nvidia-ml-py); no driver means no NVIDIA GPUs here."""

from __future__ import annotations

from dataclasses import dataclass

from aidc.core import accelerators


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    memory_mib: int
    accelerator_type: str


def discover_nvidia_gpus() -> list[GpuInfo]:
    """The GPUs NVML reports, or [] where the library or driver is missing."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []  # NVMLError_LibraryNotFound / DriverNotLoaded: no NVIDIA GPUs on this host
    try:
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = _text(pynvml.nvmlDeviceGetName(h))
            found.append(
                GpuInfo(
                    index=i,
                    name=name,
                    uuid=_text(pynvml.nvmlDeviceGetUUID(h)),
                    memory_mib=int(pynvml.nvmlDeviceGetMemoryInfo(h).total) // (1024 * 1024),
                    accelerator_type=accelerators.type_for_device_name(name).name,
                )
            )
        return found
    finally:
        pynvml.nvmlShutdown()


def _text(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v
