"""Acceptance: GPU exclusivity under load, and a server crash that loses and repeats nothing."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_job_lifecycle import job_json, submit, wait_state
from tests.server_process import ServerProcess

# Several API worker processes: what this module checks crosses them.
API_WORKERS = 2


def gpu_host(count: int) -> str:
    """An inventory of one host with ``count`` a100s and cpus to spare, so that only the
    GPUs (and quota) limit what runs."""
    return f"""
[[pools]]
name = "local"
engine = "local"

[[nodes]]
name = "gpu-host"
pool = "local"
cpus = 16
memory = "64G"
accelerator = "a100"
count = {count}
"""


def test_two_gpus_run_at_most_two_one_gpu_jobs_with_disjoint_devices(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    # 16 cpus, so only the two GPUs can be what limits concurrency here.
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(gpu_host(2))
    server = start_server(extra_args=("--inventory", str(inventory)))
    jobs = [
        submit(
            server,
            "--gpus",
            "1",
            "--",
            "sh",
            "-c",
            "echo $CUDA_VISIBLE_DEVICES; date +%s.%N; sleep 1.5; date +%s.%N",
        )
        for _ in range(3)
    ]
    spans = []
    for job_id in jobs:
        assert wait_state(server, job_id, {"SUCCEEDED", "FAILED"})["state"] == "SUCCEEDED"
        devices, start, end = server.cli("logs", job_id).stdout.split()
        spans.append((float(start), float(end), devices))
    assert all(d in {"0", "1"} for _, _, d in spans)
    # At any job's start, count the jobs running then: never more than two.
    for s1, _, _ in spans:
        running = [d for s2, e2, d in spans if s2 <= s1 < e2]
        assert len(running) <= 2, "three 1-GPU jobs ran at once on two GPUs"
        assert len(set(running)) == len(running), "concurrent jobs shared a GPU"
    # The third job had to wait for one of the first two.
    starts = sorted(s for s, _, _ in spans)
    assert starts[2] >= min(e for _, e, _ in spans) - 0.05


def test_sigkill_of_the_server_readopts_running_jobs_and_keeps_the_queue(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    # Each job appends to a file on start, so a second start would show as a second line.
    # Long enough to still run after a restart on a loaded 2-core machine.
    running = submit(server, "--gpus", "4", "--", "sh", "-c", "echo started >> starts; sleep 30")
    queued = submit(server, "--gpus", "1", "--", "sh", "-c", "echo started >> starts")
    assert wait_state(server, running, {"RUNNING"})["state"] == "RUNNING"
    assert job_json(server, queued)["state"] == "QUEUED"
    server.kill()

    server.start()
    job = job_json(server, running)
    assert job["state"] == "RUNNING"
    assert any("re-adopted" in e["reason"] for e in job["events"])
    assert job_json(server, queued)["state"] in {"QUEUED", "STARTING", "RUNNING", "SUCCEEDED"}
    for job_id in (running, queued):
        done = wait_state(server, job_id, {"SUCCEEDED", "FAILED"}, timeout=90)
        assert done["state"] == "SUCCEEDED"
        starts = (server.home / "jobs" / job_id / "work" / "starts").read_text()
        assert starts == "started\n", f"{job_id} started {starts.count('started')} times"


def test_job_that_finished_while_the_server_was_down_is_recorded(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    # Long enough to be seen running between two polls (each a CLI call) on a loaded machine.
    job_id = submit(server, "--", "sh", "-c", "sleep 4; exit 7")
    assert wait_state(server, job_id, {"RUNNING"})["state"] == "RUNNING"
    server.kill()
    time.sleep(5)
    server.start()
    job = wait_state(server, job_id, {"FAILED"})
    assert (job["state"], job["exit_code"]) == ("FAILED", 7)


def test_job_whose_supervisor_vanished_while_the_server_was_down_is_lost(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server()
    job_id = submit(server, "--", "sleep", "300")
    assert wait_state(server, job_id, {"RUNNING"})["state"] == "RUNNING"
    server.kill()
    job_dir = server.home / "jobs" / job_id
    shim = json.loads((job_dir / "attempt-1" / "shim.json").read_text())
    os.killpg(shim["pgid"], signal.SIGKILL)
    os.kill(shim["pid"], signal.SIGKILL)
    server.start()
    job = wait_state(server, job_id, {"LOST"})
    assert job["state"] == "LOST"
    assert "supervisor" in job["state_reason"]
