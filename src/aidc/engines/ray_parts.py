"""The Ray engine's pure parts: Ray nodes as aidc nodes, and what a run asks Ray for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aidc.core.resources import Node, NodeState
from aidc.engines.base import LaunchRequest
from aidc.engines.interactive import remote_environment_env
from aidc.engines.job_env import aidc_env, device_env, rank_env
from aidc.engines.local import PASS_ENV

NODE_RESOURCE = "aidc_node:"
ACCEL_RESOURCE = "aidc_accelerator:"
# A job takes this much of its nodes' aidc_node resource (each node has 1000).
NODE_SHARE = 0.001


def submission_id(job_id: str, attempt: int) -> str:
    return f"aidc-{job_id}-{attempt}"


def ray_node(entry: dict[str, Any], pool: str, accelerator: str) -> Node:
    """A node of the state API's answer as an aidc node of ``pool``."""
    res: dict[str, float] = entry.get("resources_total") or {}
    names = [k.removeprefix(NODE_RESOURCE) for k in res if k.startswith(NODE_RESOURCE)]
    accels = [k.removeprefix(ACCEL_RESOURCE) for k in res if k.startswith(ACCEL_RESOURCE)]
    ray_types = [k.split(":", 1)[1].lower() for k in res if k.startswith("accelerator_type:")]
    node_id = str(entry.get("node_id", ""))
    labels = {"pool": pool, "ray_node_id": node_id, "ip": str(entry.get("node_ip", ""))}
    state, reason = NodeState.UP, ""
    if entry.get("state") != "ALIVE":
        state = NodeState.DOWN
        reason = f"Ray node {entry.get('state')}: {entry.get('state_message') or ''}".strip()
    elif not names:
        state = NodeState.DRAINED
        reason = "no aidc_node:<name> resource: start it with ray start --resources"
    return Node(
        name=names[0] if names else f"ray-{node_id[:12]}",
        pool=pool,
        cpus=int(res.get("CPU", 0)),
        memory_mib=int(res.get("memory", 0)) // 2**20,
        accelerator_type=(accels or ray_types or [accelerator])[0],
        devices=tuple(range(int(res.get("GPU", 0)))),
        labels=labels,
        state=state,
        state_reason=reason,
    )


def ranks(job: LaunchRequest, job_dir: Path, cwd: str, checkpoints: Path) -> list[dict[str, Any]]:
    """Per placed node: its placement-group bundle, the rank's env (the driver adds what
    only Ray knows) and the variables to set to the GPUs Ray assigns."""
    out = []
    world = len(job.placement.nodes)
    for rank, held in enumerate(job.placement.nodes):
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update(remote_environment_env(job.environment))
        env.update(job.spec.env)
        devices = device_env(held)
        env.update(devices)
        env.update(aidc_env(job, held, job_dir=str(job_dir), cwd=cwd, checkpoints=str(checkpoints)))
        if world > 1:
            # The driver fills in MASTER_ADDR and MASTER_PORT from rank 0's node.
            env.update(
                rank_env(rank=rank, world_size=world, local_rank=0, master_addr="", master_port=0)
            )
        # Ray picks the GPUs: the driver sets these to the ones it assigned.
        device_vars = [k for k, v in devices.items() if v]
        if held.devices:
            device_vars.append("AIDC_VISIBLE_DEVICES")
        bundle: dict[str, float] = {f"{NODE_RESOURCE}{held.node}": NODE_SHARE}
        bundle["CPU"] = held.cpus
        if held.devices:
            bundle["GPU"] = len(held.devices)
        if held.memory_mib:
            bundle["memory"] = held.memory_mib * 2**20
        out.append({"node": held.node, "bundle": bundle, "env": env, "device_vars": device_vars})
    return out


def entrypoint_resources(job: LaunchRequest) -> dict[str, Any]:
    """What the driver of a one-node run holds: the job's node share, cpus, memory, GPUs."""
    held = job.placement.nodes[0]
    resources: dict[str, Any] = {
        "entrypoint_num_cpus": held.cpus,
        "entrypoint_resources": {f"{NODE_RESOURCE}{held.node}": NODE_SHARE},
    }
    if held.devices:
        resources["entrypoint_num_gpus"] = len(held.devices)
    if held.memory_mib:
        resources["entrypoint_memory"] = held.memory_mib * 2**20
    return resources
