"""A TOML inventory of pools and nodes.

[[pools]]
name = "gpu"
engine = "local"

[[nodes]]
name = "gpu-01"
pool = "gpu"
cpus = 32
memory = "256G"
accelerator = "a100"
count = 8
labels = { rack = "r1" }
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from aidc.core import accelerators
from aidc.core.jobspec import NAME_RE
from aidc.core.resources import Node, Pool
from aidc.core.units import parse_memory_mib


class InventoryError(ValueError):
    """A mistake in the inventory file; the message names the entry and field."""


def load_inventory(path: Path) -> tuple[list[Pool], list[Node]]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InventoryError(f"inventory file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise InventoryError(f"{path}: not valid TOML: {e}") from None
    pools = [_pool(i, p) for i, p in enumerate(data.get("pools", []))]
    names = {p.name for p in pools}
    nodes = [_node(i, n, names) for i, n in enumerate(data.get("nodes", []))]
    seen: set[str] = set()
    for n in nodes:
        if n.name in seen:
            raise InventoryError(f"nodes: node name {n.name!r} appears twice")
        seen.add(n.name)
    return pools, nodes


def _pool(i: int, p: dict[str, object]) -> Pool:
    name = str(p.get("name", ""))
    if not NAME_RE.match(name):
        raise InventoryError(f"pools[{i}].name: {name!r} is not a valid name")
    return Pool(name=name, engine=str(p.get("engine", "local")))


def _node(i: int, n: dict[str, object], pools: set[str]) -> Node:
    where = f"nodes[{i}]"
    name = str(n.get("name", ""))
    if not NAME_RE.match(name):
        raise InventoryError(f"{where}.name: {name!r} is not a valid name")
    pool = str(n.get("pool", ""))
    if pool not in pools:
        raise InventoryError(f"{where}.pool: {pool!r} is not a pool declared in [[pools]]")
    acc = str(n.get("accelerator", "cpu")).lower()
    if acc not in accelerators.CATALOG:
        raise InventoryError(
            f"{where}.accelerator: unknown type {acc!r}; "
            f"use one of {', '.join(accelerators.CATALOG)}"
        )
    count = n.get("count", 0)
    cpus = n.get("cpus", 1)
    if not isinstance(count, int) or count < 0 or (acc == "cpu" and count):
        raise InventoryError(f"{where}.count: must be a whole number >= 0 (0 for cpu nodes)")
    if not isinstance(cpus, int) or cpus < 1:
        raise InventoryError(f"{where}.cpus: must be a whole number >= 1")
    try:
        memory = parse_memory_mib(n.get("memory", "1G"))  # type: ignore[arg-type]
    except ValueError as e:
        raise InventoryError(f"{where}.memory: {e}") from None
    labels = {str(k): str(v) for k, v in dict(n.get("labels", {})).items()}  # type: ignore[call-overload]
    labels.setdefault("pool", pool)
    return Node(name, pool, cpus, memory, acc, tuple(range(count)), labels)
