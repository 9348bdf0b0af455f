"""The environment every engine gives a job: the same ``AIDC_*`` names everywhere, device
visibility, and torchrun's rank variables for multi-node jobs."""

from __future__ import annotations

from aidc.core import accelerators
from aidc.core.resources import NodePlacement
from aidc.engines.base import LaunchRequest


def device_env(held: NodePlacement) -> dict[str, str]:
    """The visible-devices variables for what ``held`` holds on its node. A job without
    accelerators gets an empty CUDA_VISIBLE_DEVICES, so it cannot grab the host's GPUs."""
    devices = ",".join(str(d) for d in held.devices)
    acc = accelerators.CATALOG.get(held.accelerator_type)
    env = {"CUDA_VISIBLE_DEVICES": devices if acc and acc.vendor == "nvidia" else ""}
    if acc and acc.visible_devices_env and acc.visible_devices_env != "CUDA_VISIBLE_DEVICES":
        env[acc.visible_devices_env] = devices
    return env


def aidc_env(
    job: LaunchRequest, held: NodePlacement, *, job_dir: str, cwd: str, checkpoints: str
) -> dict[str, str]:
    """``AIDC_*``: who the job is, what it holds on ``held``'s node, where it may write."""
    devices = ",".join(str(d) for d in held.devices)
    return {
        "AIDC_JOB_ID": job.job_id,
        "AIDC_PROJECT": job.project,
        "AIDC_JOB_DIR": job_dir,
        "AIDC_WORKDIR": cwd,
        "AIDC_NODE": held.node,
        "AIDC_ACCELERATOR_TYPE": held.accelerator_type if held.devices else "",
        "AIDC_ACCELERATORS": str(len(held.devices)),
        "AIDC_VISIBLE_DEVICES": devices,
        "AIDC_CPUS": str(held.cpus),
        "AIDC_MEMORY_MIB": str(held.memory_mib),
        "AIDC_TIME_LIMIT_S": str(int(job.time_limit_s)),
        "AIDC_ATTEMPT": str(job.attempt),
        "AIDC_CHECKPOINT_DIR": checkpoints,
    }


def rank_env(
    *, rank: int, world_size: int, local_rank: int, master_addr: str, master_port: int
) -> dict[str, str]:
    """torchrun's variables: one rank per node, so NODE_RANK is the rank and every node
    has LOCAL_RANK 0 unless an engine runs several ranks on one host."""
    return {
        "RANK": str(rank),
        "WORLD_SIZE": str(world_size),
        "LOCAL_RANK": str(local_rank),
        "NODE_RANK": str(rank),
        "MASTER_ADDR": master_addr,
        "MASTER_PORT": str(master_port),
        "AIDC_RANK": str(rank),
        "AIDC_WORLD_SIZE": str(world_size),
    }
