"""Scheduling policy: a pure decision over a snapshot. No I/O, no wall clock."""

from aidc.scheduler.fifo import plan
from aidc.scheduler.snapshot import Decision, PendingJob, RunningJob, Snapshot

__all__ = ["Decision", "PendingJob", "RunningJob", "Snapshot", "plan"]
