"""Simulation: the production scheduler on a virtual clock (docs/simulator.md).

The driver's names are loaded on first use (PEP 562), so that importing a light part such
as ``aidc.sim.names`` does not load the scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aidc.sim.driver import JobOutcome, RunRecord, SimJob, SimResult, simulate

__all__ = ["JobOutcome", "RunRecord", "SimJob", "SimResult", "simulate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from aidc.sim import driver

        return getattr(driver, name)
    raise AttributeError(f"module 'aidc.sim' has no attribute {name!r}")
