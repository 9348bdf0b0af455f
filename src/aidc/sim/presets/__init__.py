"""Simulated clusters as inventory files: nodes, quotas and the node shape, with assumptions.

A preset is a TOML file in the production inventory format (``aidc.inventory.toml_file``:
``[[pools]]``, ``[[nodes]]`` with ``copies`` for identical nodes) plus tables only the
simulator reads::

    name = "philly"
    description = "what is assumed, in words"

    [shape]                      # how a trace's "N GPUs" becomes a request here
    accelerators = 8             # per node: more than this is a gang of whole nodes
    accelerator_type = "p100"    # "" accepts any type (a heterogeneous cluster)
    cpus_per_accelerator = 4
    memory_per_accelerator = "32G"

    [[quotas]]                   # a project's guaranteed (nominal) accelerators, by type
    project = "6214e9"
    nominal = { p100 = 512 }
    cohort = "msr"               # optional: the cohort (organisation) above the project

A project without a ``[[quotas]]`` entry has no guarantee: it sits under the root and can
only borrow. ``load_cluster`` takes a built-in name (``PRESETS``) or a path to a user's own
file in the same format; a mistake is a ``PresetError`` naming the file, entry and field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aidc.core import accelerators
from aidc.core.resources import Node
from aidc.core.units import parse_memory_mib
from aidc.inventory.toml_file import InventoryError, data_inventory
from aidc.scheduler import QuotaLimit, QuotaNode, Quotas
from aidc.sim.names import CLUSTER_PRESETS
from aidc.sim.traces.common import NodeShape

PRESETS: tuple[str, ...] = CLUSTER_PRESETS


class PresetError(ValueError):
    """A mistake in a preset file: the file, the entry and the field."""


@dataclass(frozen=True)
class SimCluster:
    name: str
    nodes: tuple[Node, ...]
    quotas: Quotas
    shape: NodeShape  # how trace sizes become requests on this cluster
    description: str  # the assumptions, as stated in the file

    @property
    def capacity(self) -> dict[str, int]:
        """Accelerators per type: what ``aidc.sim.metrics.summary`` divides use by."""
        out: dict[str, int] = {}
        for n in self.nodes:
            if n.accelerator_count:
                out[n.accelerator_type] = out.get(n.accelerator_type, 0) + n.accelerator_count
        return out


def load_cluster(name_or_path: str) -> SimCluster:
    """The built-in preset ``name_or_path``, else the preset file at that path."""
    if name_or_path in PRESETS:
        source = f"preset {name_or_path}"
        text = (resources.files(__package__) / f"{name_or_path}.toml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise PresetError(
                f"{name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor a file"
            )
        source, text = str(path), path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"{source}: not valid TOML: {e}") from None
    try:
        _, nodes = data_inventory(data)
    except InventoryError as e:
        raise PresetError(f"{source}: {e}") from None
    if not nodes:
        raise PresetError(f"{source}: no [[nodes]]: a cluster needs at least one node")
    for key in ("name", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise PresetError(f'{source}: {key}: must be a string, e.g. {key} = "..."')
    return SimCluster(
        data["name"],
        tuple(nodes),
        _quotas(source, data.get("quotas", []), {n.accelerator_type for n in nodes}),
        _shape(source, data.get("shape", {})),
        data["description"].strip(),
    )


def _shape(source: str, raw: object) -> NodeShape:
    if not isinstance(raw, dict):
        raise PresetError(f"{source}: shape: must be a table written [shape]")
    unknown = set(raw) - {
        "accelerators",
        "accelerator_type",
        "cpus_per_accelerator",
        "memory_per_accelerator",
    }
    if unknown:
        raise PresetError(f"{source}: shape.{sorted(unknown)[0]}: not a field of [shape]")
    default = NodeShape()
    kind = raw.get("accelerator_type", default.accelerator_type)
    if not isinstance(kind, str) or (kind and kind not in accelerators.CATALOG):
        raise PresetError(
            f"{source}: shape.accelerator_type: {kind!r} is not a known type "
            f'(one of {", ".join(accelerators.CATALOG)}, or "" for any)'
        )
    counts = {}
    for key in ("accelerators", "cpus_per_accelerator"):
        value = raw.get(key, getattr(default, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PresetError(f"{source}: shape.{key}: must be a whole number >= 1")
        counts[key] = value
    memory = raw.get("memory_per_accelerator", default.memory_mib_per_accelerator)
    try:
        if isinstance(memory, bool) or not isinstance(memory, int | str):
            raise ValueError('a size such as "32G" or whole MiB')
        mib = parse_memory_mib(memory)
    except ValueError as e:
        raise PresetError(f"{source}: shape.memory_per_accelerator: {e}") from None
    return NodeShape(counts["accelerators"], kind, counts["cpus_per_accelerator"], mib)


def _quotas(source: str, raw: object, types: set[str]) -> Quotas:
    if not isinstance(raw, list):
        raise PresetError(f"{source}: quotas: must be an array of tables, each [[quotas]]")
    projects: list[QuotaNode] = []
    cohorts: dict[str, None] = {}
    seen: dict[str, int] = {}
    for i, q in enumerate(raw):
        where = f"{source}: quotas[{i}]"
        if not isinstance(q, dict):
            raise PresetError(f"{where}: must be a table written [[quotas]]")
        unknown = set(q) - {"project", "nominal", "cohort"}
        if unknown:
            raise PresetError(f"{where}.{sorted(unknown)[0]}: not a field of [[quotas]]")
        project = q.get("project")
        if not isinstance(project, str) or not project:
            raise PresetError(f'{where}.project: must name the project, e.g. project = "vc1"')
        if project in seen:
            raise PresetError(f"{where}.project: {project!r} already has quotas[{seen[project]}]")
        seen[project] = i
        nominal = q.get("nominal")
        if not isinstance(nominal, dict) or not nominal:
            raise PresetError(f"{where}.nominal: must be a table such as {{ a100 = 64 }}")
        limits = {}
        for kind, amount in nominal.items():
            if kind not in types:
                raise PresetError(
                    f"{where}.nominal.{kind}: no node has this type "
                    f"(the cluster has {', '.join(sorted(types))})"
                )
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                raise PresetError(f"{where}.nominal.{kind}: must be a number >= 0")
            limits[kind] = QuotaLimit(float(amount))
        cohort = q.get("cohort")
        if cohort is not None and (not isinstance(cohort, str) or not cohort):
            raise PresetError(f"{where}.cohort: must be a name, or left out")
        if cohort:
            cohorts[cohort] = None
        projects.append(QuotaNode(project, cohort, limits))
    return Quotas(tuple(QuotaNode(c) for c in cohorts), tuple(projects))
