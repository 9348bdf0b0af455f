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

[[nodes]]
name = "cpu"
pool = "gpu"
cpus = 64
copies = 16  # sixteen identical nodes named cpu-001 ... cpu-016

``copies = N`` (a whole number >= 1) stands for N identical nodes, named ``<name>-001`` to
``<name>-N`` (three digits, or more when N needs them); a generated name that another entry
already uses is refused like any other.
A pool on an engine that reports its own nodes (``engine = "slurm"`` or ``"ray"``) needs no
``[[nodes]]``; that engine's options go in a table of its own::

    [engines.slurm]
    conf = "/etc/slurm/slurm.conf"

``data_inventory`` reads the same tables from already-parsed TOML, so that a file with more
tables (a simulator preset) uses the same rules.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
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
    return data_inventory(data)


def load_engine_options(path: Path) -> dict[str, dict[str, object]]:
    """The ``[engines.<kind>]`` tables of the inventory file: each engine's options."""
    return engine_options(tomllib.loads(path.read_text()))


def engine_options(data: dict[str, object]) -> dict[str, dict[str, object]]:
    engines = data.get("engines", {})
    if not isinstance(engines, dict) or not all(isinstance(v, dict) for v in engines.values()):
        raise InventoryError('engines: must be tables such as [engines.slurm] conf = "..."')
    return {str(k): dict(v) for k, v in engines.items()}


def data_inventory(data: dict[str, object]) -> tuple[list[Pool], list[Node]]:
    """Pools and nodes of parsed TOML ``data`` (``[[pools]]`` and ``[[nodes]]``)."""
    pools = [_pool(i, p) for i, p in enumerate(_tables(data, "pools"))]
    _unique("pools", [p.name for p in pools])
    names = {p.name for p in pools}
    nodes: list[Node] = []
    entries: list[int] = []  # the entry each node came from, to name it in errors
    for i, n in enumerate(_tables(data, "nodes")):
        made = _copies(i, n, _node(i, n, names))
        nodes.extend(made)
        entries.extend([i] * len(made))
    _unique("nodes", [n.name for n in nodes], entries)
    return pools, nodes


def _tables(data: dict[str, object], key: str) -> list[dict[str, object]]:
    """``data[key]`` as a list of tables; a ``[key]`` written for ``[[key]]`` is an error."""
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise InventoryError(f"{key}: must be an array of tables, each written [[{key}]]")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise InventoryError(f"{key}[{i}]: must be a table written [[{key}]]")
    return entries


def _unique(key: str, names: list[str], entries: list[int] | None = None) -> None:
    """Refuse a repeated name, naming both entries (``entries[i]``: the entry of name i)."""
    at = entries or list(range(len(names)))
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise InventoryError(
                f"{key}[{at[i]}].name: {name!r} is already used by {key}[{at[first[name]]}]"
            )
        first[name] = i


def _copies(i: int, n: dict[str, object], node: Node) -> list[Node]:
    if "copies" not in n:
        return [node]
    copies = n["copies"]
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise InventoryError(f"nodes[{i}].copies: must be a whole number >= 1 (got {copies!r})")
    width = max(3, len(str(copies)))
    made = []
    for k in range(1, copies + 1):
        name = f"{node.name}-{k:0{width}d}"
        made.append(replace(node, name=name, labels=dict(node.labels)))
    return made


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
    raw_memory = n.get("memory", "1G")
    if isinstance(raw_memory, bool) or not isinstance(raw_memory, int | str):
        raise InventoryError(f'{where}.memory: must be a size such as "256G" or whole MiB')
    try:
        memory = parse_memory_mib(raw_memory)
    except ValueError as e:
        raise InventoryError(f"{where}.memory: {e}") from None
    raw_labels = n.get("labels", {})
    if not isinstance(raw_labels, dict):
        raise InventoryError(f'{where}.labels: must be a table such as {{ rack = "r1" }}')
    labels = {str(k): str(v) for k, v in raw_labels.items()}
    labels.setdefault("pool", pool)
    return Node(name, pool, cpus, memory, acc, tuple(range(count)), labels)
