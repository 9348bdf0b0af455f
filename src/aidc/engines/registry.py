"""Engines by kind: a pool's ``engine`` names one, ``[engines.<kind>]`` configures it.

Each kind's module is imported only when a pool uses it, so a center without Ray never
imports ray. A module exposes ``from_config(config: EngineConfig) -> Engine`` and raises
``EngineConfigError`` naming the option (``engines.slurm.conf``) and the fix.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine

KINDS = {
    "local": "aidc.engines.local",
    "slurm": "aidc.engines.slurm",
    "ray": "aidc.engines.ray",
}
# What to install when a kind's module needs an optional dependency.
EXTRAS = {"ray": "pip install 'aidc[ray]'"}


class EngineConfigError(ValueError):
    """A mistake in an engine's configuration; the message names the option."""


@dataclass(frozen=True)
class EngineConfig:
    kind: str
    # aidc's home: engines keep per-job files (scripts, logs, checkpoints) under it.
    home: Path
    # The pools this engine serves, and the nodes the inventory file lists for them (none:
    # the engine reports its own, from the cluster).
    pools: tuple[Pool, ...]
    nodes: tuple[Node, ...]
    grace_s: float
    options: dict[str, Any] = field(default_factory=dict)


def build(config: EngineConfig) -> Engine:
    module_name = KINDS.get(config.kind)
    if module_name is None:
        raise EngineConfigError(
            f"pools: engine {config.kind!r} is unknown; use one of {', '.join(KINDS)}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        hint = EXTRAS.get(config.kind, "reinstall aidc")
        raise EngineConfigError(f"engine {config.kind!r} cannot be loaded ({e}); {hint}") from None
    engine: Engine = module.from_config(config)
    return engine
