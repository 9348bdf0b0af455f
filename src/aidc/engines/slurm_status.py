"""Slurm's words for jobs and nodes, in aidc's terms: a run's outcome, a node's state."""

from __future__ import annotations

import re
from typing import Any

from aidc.core.resources import Node, NodeState
from aidc.engines.base import EngineStatus, Outcome
from aidc.engines.slurm_cli import exit_status

# Job states of a run that has not ended (its processes may still run).
ACTIVE = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "SUSPENDED",
    "COMPLETING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESIZING",
    "SIGNALING",
    "STAGE_OUT",
    "STOPPED",
}
# Ends where Slurm, not the job, decided: its state and reason go into the status.
ABNORMAL = {"NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
_GRES = re.compile(r"gpu:(?:([^:(,]+):)?(\d+)")
# Slurm node states that mean "not usable now".
_DOWN_STATES = {"down", "unknown", "future", "error", "fail", "failing"}
_DOWN_FLAGS = {"NOT_RESPONDING", "POWERED_DOWN", "POWER_DOWN", "FAIL", "MAINTENANCE"}


def finished_status(
    state: str,
    reason: str,
    job: dict[str, Any],
    ended: EngineStatus | None,
    stop: dict[str, object] | None,
    details: dict[str, Any],
) -> EngineStatus:
    """How a run that Slurm reports ended (``state``, ``reason``) ended for aidc: the
    supervisor's record (``ended``) first, then a stop aidc asked for, then Slurm's word."""
    slurm = f"Slurm {state}" + (f": {reason}" if reason and reason != "None" else "")
    if ended is not None:
        if state in ABNORMAL:
            return EngineStatus(
                Outcome.FAILED, ended.exit_code, f"{slurm}; {ended.reason}", details
            )
        details = {**details, **ended.details}
        if ended.outcome is Outcome.CANCELLED and not stop:
            # The supervisor got a SIGTERM aidc did not send: Slurm's time limit, or an
            # operator's scancel.
            if state == "TIMEOUT":
                return EngineStatus(
                    Outcome.TIMEOUT, ended.exit_code, f"timeout: {slurm} time limit", details
                )
            return EngineStatus(
                Outcome.CANCELLED, ended.exit_code, f"cancelled in Slurm ({slurm})", details
            )
        return EngineStatus(ended.outcome, ended.exit_code, ended.reason, details)
    code, signame = exit_status(job)
    if stop:
        if stop.get("kind") == "preempt":
            why = str(stop.get("reason") or "preempted to make room for another job")
            return EngineStatus(Outcome.PREEMPTED, code, why, details)
        return EngineStatus(Outcome.CANCELLED, code, "cancelled", details)
    if state == "COMPLETED":
        return EngineStatus(Outcome.SUCCEEDED, 0, "exit code 0", details)
    if state == "TIMEOUT":
        return EngineStatus(Outcome.TIMEOUT, code, f"timeout: {slurm} time limit", details)
    if state == "CANCELLED":
        return EngineStatus(Outcome.CANCELLED, code, f"cancelled in Slurm ({slurm})", details)
    if state == "PREEMPTED":
        return EngineStatus(Outcome.PREEMPTED, code, f"preempted by Slurm ({slurm})", details)
    how = f"killed by signal {signame}" if signame else f"exit code {code}"
    return EngineStatus(Outcome.FAILED, code, f"{slurm} ({how})", details)


def node_from_sinfo(n: dict[str, Any], pool: str, partition: str) -> Node:
    """An aidc node from one ``sinfo --json`` node record."""
    m = _GRES.search(str(n.get("gres") or ""))
    accel, count = ("cpu", 0)
    if m and int(m.group(2)):
        accel, count = (m.group(1) or "gpu"), int(m.group(2))
    state, reason = node_state(n)
    return Node(
        name=str(n["name"]),
        pool=pool,
        cpus=int(n.get("cpus") or 0),
        memory_mib=int(n.get("real_memory") or 0),
        accelerator_type=accel,
        devices=tuple(range(count)),
        labels={"pool": pool, "partition": partition},
        state=state,
        state_reason=reason,
    )


def node_state(n: dict[str, Any]) -> tuple[NodeState, str]:
    state = str(n.get("state") or "").lower()
    flags = {str(f).upper() for f in n.get("state_flags") or []}
    reason = str(n.get("reason") or "")
    if state in _DOWN_STATES or flags & _DOWN_FLAGS:
        why = reason or f"Slurm state {state}{'+' + '+'.join(sorted(flags)) if flags else ''}"
        return NodeState.DOWN, why
    if "DRAIN" in flags or state in ("drained", "draining"):
        return NodeState.DRAINED, reason or "drained in Slurm"
    return NodeState.UP, ""
