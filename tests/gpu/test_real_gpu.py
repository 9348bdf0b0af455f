"""On a host with NVIDIA GPUs: NVML discovery and a real GPU job through the real server.

CI machines have no GPU, so these skip there even under AIDC_REQUIRE_ALL (no install step can
give a machine a GPU); run them on a GPU host: `pytest tests/gpu`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from aidc.inventory.host import local_node
from aidc.inventory.nvml import discover_nvidia_gpus
from tests.server_process import ServerProcess

GPUS = discover_nvidia_gpus()
pytestmark = pytest.mark.skipif(not GPUS, reason="no NVIDIA GPU/driver on this host")

TORCH_CHECK = (
    "import torch; n = torch.cuda.device_count(); print('devices', n); "
    "x = torch.randn(2048, 2048, device='cuda') if n else None; "
    "print('name', torch.cuda.get_device_name(0) if n else '-'); "
    "print('matmul', float((x @ x).abs().sum()) > 0 if n else '-')"
)


def test_nvml_reports_the_gpus_nvidia_smi_sees() -> None:
    smi = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True)
    assert len(GPUS) == len([ln for ln in smi.stdout.splitlines() if ln.startswith("GPU ")])
    node = local_node("local", virtual_accelerators="4xa100")  # real GPUs win over virtual
    assert node.labels["source"] == "nvml"
    assert node.devices == tuple(
        g.index for g in GPUS if g.accelerator_type == node.accelerator_type
    )
    print("NVML:", [(g.index, g.name, g.accelerator_type, g.memory_mib) for g in GPUS])


@pytest.mark.skipif(shutil.which("python3") is None, reason="no python3 for the job")
def test_a_gpu_job_sees_exactly_its_gpu_and_a_cpu_job_sees_none(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "home", f"sqlite:///{tmp_path / 'aidc.db'}").start()
    try:
        acc = local_node().accelerator_type
        ids = []
        for gpus in ("1", "0"):
            r = server.cli(
                "submit",
                "-p",
                "hanbit-vision",
                "--gpus",
                gpus,
                "--gpu-type",
                acc,
                "--",
                "python3",
                "-c",
                TORCH_CHECK,
            )
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.strip())
        for job_id in ids:
            deadline = time.monotonic() + 120
            while json.loads(server.cli("job", job_id, "--json").stdout)["state"] not in (
                "SUCCEEDED",
                "FAILED",
            ):
                assert time.monotonic() < deadline
                time.sleep(0.2)
        gpu_log, cpu_log = (server.cli("logs", j).stdout for j in ids)
        print("GPU job:", gpu_log, "CPU job:", cpu_log, sep="\n")
        assert "devices 1" in gpu_log and "matmul True" in gpu_log
        assert "devices 0" in cpu_log
    finally:
        server.stop()
