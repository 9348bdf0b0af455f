"""Simulation: the production scheduler on a virtual clock (issue 4; the driver so far)."""

from aidc.sim.driver import JobOutcome, SimJob, SimResult, simulate

__all__ = ["JobOutcome", "SimJob", "SimResult", "simulate"]
