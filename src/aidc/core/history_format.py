"""The columns of aidc's job history export, shared by the export (``services.job_export``)
and the simulator's ``aidc-history`` loader, which must not need the store to read a file."""

from __future__ import annotations

from aidc.core.job_states import TERMINAL

COLUMNS = (
    "job_id",
    "project",
    "submitted_at",
    "started_at",
    "ended_at",
    "nodes",
    "accelerators_per_node",
    "accelerator_types",
    "cpus",
    "memory_mib",
    "priority_class",
    "time_limit_s",
    "state",
)
TERMINAL_STATES = frozenset(str(s) for s in TERMINAL)
