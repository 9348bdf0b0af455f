"""Accelerator types as data.

Peak figures are the vendors' published dense numbers (no sparsity). PF-hours, the unit
funders read, are accelerator-hours times ``peak_pf`` (bf16). ``billing_weight`` is relative
to one A100-hour. A ``cpu`` "accelerator" stands for one CPU core so that CPU partitions are
metered in the same ledger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class AcceleratorKind(StrEnum):
    GPU = "gpu"
    NPU = "npu"
    CPU = "cpu"


@dataclass(frozen=True, slots=True)
class AcceleratorType:
    name: str
    vendor: str
    kind: AcceleratorKind
    model: str
    memory_gb: float
    peak_tflops_bf16: float
    peak_tflops_fp64: float
    billing_weight: float

    @property
    def peak_pf(self) -> float:
        """Peak petaflops at bf16/fp16, the figure PF-hours are counted in."""
        return self.peak_tflops_bf16 / 1000.0

    @property
    def visible_devices_env(self) -> str | None:
        """The environment variable a runtime of this vendor reads to pick its devices."""
        return {"nvidia": "CUDA_VISIBLE_DEVICES", "amd": "ROCR_VISIBLE_DEVICES"}.get(self.vendor)


CATALOG: dict[str, AcceleratorType] = {
    t.name: t
    for t in (
        AcceleratorType(
            "h100", "nvidia", AcceleratorKind.GPU, "NVIDIA H100 SXM5 80GB", 80, 989.0, 67.0, 2.0
        ),
        AcceleratorType(
            "h200", "nvidia", AcceleratorKind.GPU, "NVIDIA H200 SXM 141GB", 141, 989.0, 67.0, 2.4
        ),
        AcceleratorType(
            "a100", "nvidia", AcceleratorKind.GPU, "NVIDIA A100 SXM4 80GB", 80, 312.0, 19.5, 1.0
        ),
        AcceleratorType(
            "l40s", "nvidia", AcceleratorKind.GPU, "NVIDIA L40S 48GB", 48, 362.0, 1.4, 0.6
        ),
        # Older and inference GPUs, as in the public traces the simulator replays (Philly,
        # Alibaba PAI). Peaks: the datasheets' dense tensor fp16 (no bf16 before Ampere) and
        # fp64; weights: roughly their rental price against an A100's.
        AcceleratorType(
            "v100m32", "nvidia", AcceleratorKind.GPU, "NVIDIA V100 SXM2 32GB", 32, 125.0, 7.8, 0.35
        ),
        AcceleratorType(
            "v100m16", "nvidia", AcceleratorKind.GPU, "NVIDIA V100 SXM2 16GB", 16, 125.0, 7.8, 0.3
        ),
        AcceleratorType(
            "p100",
            "nvidia",
            AcceleratorKind.GPU,
            "NVIDIA Tesla P100 SXM2 16GB",
            16,
            21.2,
            5.3,
            0.15,
        ),
        AcceleratorType(
            "a10", "nvidia", AcceleratorKind.GPU, "NVIDIA A10 24GB", 24, 125.0, 0.98, 0.25
        ),
        AcceleratorType("t4", "nvidia", AcceleratorKind.GPU, "NVIDIA T4 16GB", 16, 65.0, 0.25, 0.1),
        # Alibaba's 2023 trace names two models only as G2 and G3 (anonymised): their
        # memory and peaks are unknown (0: they count no PF-hours), their weight that of an
        # A100 for want of better. Used by the alibaba-openb simulator preset.
        AcceleratorType(
            "g2", "anonymised", AcceleratorKind.GPU, "Alibaba G2 (anonymised)", 0, 0.0, 0.0, 1.0
        ),
        AcceleratorType(
            "g3", "anonymised", AcceleratorKind.GPU, "Alibaba G3 (anonymised)", 0, 0.0, 0.0, 1.0
        ),
        AcceleratorType(
            "rngd", "furiosa", AcceleratorKind.NPU, "FuriosaAI RNGD", 48, 256.0, 0.0, 0.7
        ),
        AcceleratorType(
            "atom", "rebellions", AcceleratorKind.NPU, "Rebellions ATOM", 16, 32.0, 0.0, 0.2
        ),
        AcceleratorType(
            "cpu", "generic", AcceleratorKind.CPU, "x86-64 CPU core", 0, 0.1, 0.05, 0.01
        ),
    )
}

# Substrings of the names NVML reports, most specific first, mapped to catalog names.
_NVML_NAME_HINTS: tuple[tuple[str, str], ...] = (
    ("H200", "h200"),
    ("H100", "h100"),
    ("A100", "a100"),
    ("L40S", "l40s"),
)


def get(name: str) -> AcceleratorType:
    """The catalog entry called ``name``; KeyError names the known types."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown accelerator type {name!r}; known: {', '.join(CATALOG)}") from None


def memory_gb(name: str) -> float:
    """Memory per device of type ``name``; 0 for a type the catalog does not know."""
    t = CATALOG.get(name)
    return t.memory_gb if t else 0.0


def billing_weight(name: str) -> float:
    """Billing weight of type ``name``; 1 (an A100) for a type the catalog does not know."""
    t = CATALOG.get(name)
    return t.billing_weight if t else 1.0


def peak_tflops(name: str) -> float:
    t = CATALOG.get(name)
    return t.peak_tflops_bf16 if t else 0.0


def type_for_device_name(device_name: str) -> AcceleratorType:
    """Map a name as NVML reports it ("NVIDIA H100 80GB HBM3") to an accelerator type.

    A model aidc does not know yet becomes its own type with no peak figures and weight 1, so
    it can still be scheduled; an operator adds real figures to the catalog.
    """
    upper = device_name.upper()
    for hint, name in _NVML_NAME_HINTS:
        # A hint followed by a digit is another model: an "RTX A1000" is no A100.
        if re.search(re.escape(hint) + r"(?![0-9])", upper):
            return CATALOG[name]
    slug = "".join(c if c.isalnum() else "-" for c in device_name.lower()).strip("-")
    slug = slug.removeprefix("nvidia-") or "gpu"
    return AcceleratorType(slug, "nvidia", AcceleratorKind.GPU, device_name, 0, 0.0, 0.0, 1.0)
