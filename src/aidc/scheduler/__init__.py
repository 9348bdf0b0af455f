"""Scheduling policy: a pure decision over a snapshot. No I/O, no wall clock.

``plan(snapshot) -> Plan`` is the whole interface; the controller and the simulator call the
same function, through a ``Planner`` that keeps the queue's grouping from pass to pass (the
same answers, less work). One concern per module: ``ordering`` (multifactor priority, fair share),
``quota`` (nominal, borrowing and lending limits in a cohort tree), ``placement`` (packing,
gangs, racks), ``preemption``, ``backfill`` and ``explain``; ``plan`` ties them together.
"""

from aidc.scheduler.plan import Planner, plan
from aidc.scheduler.snapshot import (
    Decision,
    Explanation,
    PendingJob,
    Plan,
    Preemption,
    QuotaLimit,
    QuotaNode,
    Quotas,
    Reason,
    Reservation,
    RunningJob,
    Snapshot,
)

__all__ = [
    "Decision",
    "Explanation",
    "PendingJob",
    "Plan",
    "Planner",
    "Preemption",
    "QuotaLimit",
    "QuotaNode",
    "Quotas",
    "Reason",
    "Reservation",
    "RunningJob",
    "Snapshot",
    "plan",
]
