"""Where experiments find trace formats and clusters, in one place for the CLI and the API:
``aidc.sim.traces.FORMATS`` and ``aidc.sim.presets``."""

from __future__ import annotations

from aidc.sim.presets import PRESETS, PresetError, SimCluster, load_cluster
from aidc.sim.traces import FORMATS, LoadReport, TraceError

__all__ = [
    "FORMATS",
    "PRESETS",
    "LoadReport",
    "PresetError",
    "SimCluster",
    "TraceError",
    "load_cluster",
]
