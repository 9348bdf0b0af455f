"""The accelerator catalog and the mapping from the names NVML reports."""

from __future__ import annotations

import pytest

from aidc.core import accelerators
from aidc.core.accelerators import CATALOG, AcceleratorKind, type_for_device_name


@pytest.mark.parametrize("name", ["h100", "a100", "l40s", "cpu"])
def test_catalog_has_the_common_types(name: str) -> None:
    t = CATALOG[name]
    assert t.name == name
    assert t.peak_tflops_bf16 > 0
    assert t.billing_weight > 0


def test_catalog_has_an_npu() -> None:
    npus = {n for n, t in CATALOG.items() if t.kind is AcceleratorKind.NPU}
    assert npus & {"rngd", "atom"}


KNOWN = [t for t in CATALOG.values() if t.vendor != "anonymised"]


@pytest.mark.parametrize("t", KNOWN, ids=[t.name for t in KNOWN])
def test_every_entry_has_figures(t: accelerators.AcceleratorType) -> None:
    assert t.memory_gb >= 0
    assert t.peak_tflops_bf16 > 0
    assert t.billing_weight > 0
    assert t.peak_pf == pytest.approx(t.peak_tflops_bf16 / 1000)
    if t.kind is not AcceleratorKind.CPU:
        assert t.memory_gb > 0


def test_a100_is_the_billing_unit_and_figures_are_ordered() -> None:
    assert CATALOG["a100"].billing_weight == 1.0
    assert CATALOG["h100"].billing_weight > CATALOG["a100"].billing_weight
    assert CATALOG["cpu"].billing_weight < CATALOG["l40s"].billing_weight
    assert CATALOG["h100"].peak_tflops_bf16 > CATALOG["a100"].peak_tflops_bf16
    assert CATALOG["h100"].memory_gb == 80


def test_anonymised_models_say_so_and_count_no_pf_hours() -> None:
    anonymised = {n: t for n, t in CATALOG.items() if t.vendor == "anonymised"}
    assert set(anonymised) == {"g2", "g3"}
    for t in anonymised.values():
        assert "anonymised" in t.model
        assert (t.memory_gb, t.peak_pf, t.billing_weight) == (0, 0, 1.0)


def test_trace_models_have_datasheet_figures() -> None:
    assert [CATALOG[n].memory_gb for n in ("p100", "v100m16", "v100m32", "t4", "a10")] == [
        16,
        16,
        32,
        16,
        24,
    ]
    # Older than an A100, so slower and cheaper.
    for n in ("p100", "v100m16", "v100m32", "t4", "a10"):
        assert 0 < CATALOG[n].peak_tflops_bf16 < CATALOG["a100"].peak_tflops_bf16
        assert 0 < CATALOG[n].billing_weight < 1


def test_visible_devices_env_by_vendor() -> None:
    assert CATALOG["h100"].visible_devices_env == "CUDA_VISIBLE_DEVICES"
    assert CATALOG["rngd"].visible_devices_env is None


def test_get_names_known_types_when_unknown() -> None:
    assert accelerators.get("h100") is CATALOG["h100"]
    with pytest.raises(KeyError, match="known: h100"):
        accelerators.get("v100")


@pytest.mark.parametrize(
    ("nvml_name", "type_"),
    [
        ("NVIDIA H100 80GB HBM3", "h100"),
        ("NVIDIA H100 PCIe", "h100"),
        ("NVIDIA H100 NVL", "h100"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-80GB", "a100"),
        ("NVIDIA A100-PCIE-40GB", "a100"),
        ("NVIDIA A100 80GB PCIe", "a100"),
        ("NVIDIA L40S", "l40s"),
        (b"NVIDIA L40S".decode(), "l40s"),
    ],
)
def test_real_nvml_names(nvml_name: str, type_: str) -> None:
    assert type_for_device_name(nvml_name) is CATALOG[type_]


@pytest.mark.parametrize(
    ("nvml_name", "slug"),
    [
        ("NVIDIA GeForce RTX 4090", "geforce-rtx-4090"),
        ("Tesla V100-SXM2-16GB", "tesla-v100-sxm2-16gb"),
        ("NVIDIA L40", "l40"),
        # An A1000 is not an A100: it must not be scheduled or billed as one.
        ("NVIDIA RTX A1000", "rtx-a1000"),
        ("NVIDIA", "nvidia"),
        ("", "gpu"),
    ],
)
def test_unknown_names_become_usable_types(nvml_name: str, slug: str) -> None:
    t = type_for_device_name(nvml_name)
    assert t.name == slug
    assert t.name not in CATALOG
    assert t.kind is AcceleratorKind.GPU
    assert t.vendor == "nvidia"
    assert t.model == nvml_name
    assert t.billing_weight == 1.0
    assert t.visible_devices_env == "CUDA_VISIBLE_DEVICES"
