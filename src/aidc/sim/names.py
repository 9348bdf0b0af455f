"""The names the simulator knows, without importing what they name: the CLI lists them in
its help, and every ``aidc`` command would otherwise pay for loading the loaders."""

from __future__ import annotations

# Keys of ``aidc.sim.traces.FORMATS``, in its order (a test checks they agree).
FORMAT_NAMES: tuple[str, ...] = (
    "tiresias",
    "philly-csv",
    "philly-json",
    "helios",
    "alibaba-pai2020",
    "alibaba-gpu2023",
    "aidc-history",
)
# The built-in cluster presets (``aidc.sim.presets.PRESETS``).
CLUSTER_PRESETS: tuple[str, ...] = ("philly", "alibaba-openb", "tiresias", "gwangju")
