"""Simulation: the production scheduler on a virtual clock (issue 4)."""

from aidc.sim.driver import JobOutcome, RunRecord, SimJob, SimResult, simulate

__all__ = ["JobOutcome", "RunRecord", "SimJob", "SimResult", "simulate"]
