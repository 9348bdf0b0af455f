"""The local host as a node: its real CPUs and memory, and its accelerators."""

from __future__ import annotations

import os
import re
import socket

import psutil

from aidc.core import accelerators
from aidc.core.resources import Node
from aidc.inventory.nvml import discover_nvidia_gpus

_VIRTUAL = re.compile(r"^\s*(\d+)\s*x\s*([a-z0-9-]+)\s*$", re.IGNORECASE)


def parse_virtual_accelerators(text: str) -> tuple[int, str]:
    """``4xa100`` -> ``(4, "a100")``; ValueError says the accepted form."""
    m = _VIRTUAL.match(text)
    if not m:
        raise ValueError(f"{text!r} is not COUNTxTYPE, e.g. 4xa100")
    count, name = int(m.group(1)), m.group(2).lower()
    if name not in accelerators.CATALOG or name == "cpu":
        known = ", ".join(n for n in accelerators.CATALOG if n != "cpu")
        raise ValueError(f"unknown accelerator type {name!r} in {text!r}; use one of {known}")
    if not 1 <= count <= 64:
        raise ValueError(f"accelerator count in {text!r} must be between 1 and 64")
    return count, name


def local_node(pool: str = "local", virtual_accelerators: str | None = None) -> Node:
    """This host: real cpus and memory; NVIDIA GPUs via NVML, else the virtual ones asked for.

    Real GPUs win over virtual ones, so a GPU host never schedules onto devices it lacks.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory_mib = psutil.virtual_memory().total // (1024 * 1024)
    name = socket.gethostname().split(".")[0] or "localhost"
    gpus = discover_nvidia_gpus()
    labels = {"pool": pool, "host": name}
    if gpus:
        kinds = {g.accelerator_type for g in gpus}
        # A node holds one accelerator type; a mixed host keeps its most common one.
        acc = max(kinds, key=lambda k: sum(g.accelerator_type == k for g in gpus))
        devices = tuple(g.index for g in gpus if g.accelerator_type == acc)
        labels["gpu-model"] = next(g.name for g in gpus if g.accelerator_type == acc)
        labels["source"] = "nvml"
        return Node(name, pool, cpus or 1, memory_mib, acc, devices, labels)
    if virtual_accelerators:
        count, acc = parse_virtual_accelerators(virtual_accelerators)
        labels["source"] = "virtual"
        return Node(name, pool, cpus or 1, memory_mib, acc, tuple(range(count)), labels)
    labels["source"] = "host"
    return Node(name, pool, cpus or 1, memory_mib, "cpu", (), labels)
