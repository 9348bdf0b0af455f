"""Notebook sessions as domain rules: their states, what a user is told while one starts,
and when one is idle. Pure: times come in as arguments."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from aidc.core.job_states import JobState

# name@version:/mount/point (the version and the mount are optional).
DATASET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}(@[A-Za-z0-9._-]{1,63})?(:/[^\x00]*)?\Z")


class SessionState(StrEnum):
    """starting: queued, launching, or waiting for JupyterLab to answer; ready: reachable
    through the proxy; stopped: its job ended (stopped, culled, lifetime reached, failed)."""

    STARTING = "starting"
    READY = "ready"
    STOPPED = "stopped"


def progress(
    job_state: JobState,
    *,
    position: int | None = None,
    wait_message: str = "",
    node: str = "",
    address_known: bool = False,
) -> str:
    """One line on where a starting session stands, from its job's state."""
    if job_state is JobState.QUEUED:
        where = f"position {position} in the queue" if position is not None else "in the queue"
        return f"queued: {where}" + (f" ({wait_message})" if wait_message else "")
    if job_state in (JobState.ADMITTED, JobState.STARTING):
        return f"launching on {node}" if node else "launching"
    if job_state is JobState.RUNNING:
        on = f" on {node}" if node else ""
        if not address_known:
            return f"JupyterLab is starting{on}"
        return f"waiting for JupyterLab to answer{on}"
    return f"its job ended ({job_state})"


def stop_reason(job_state: JobState, job_reason: str, time_limit_s: float) -> str:
    """Why a session stopped, in the user's terms, from how its job ended."""
    if "timeout" in job_reason:
        return f"reached its maximum lifetime ({int(time_limit_s)}s)"
    if job_state is JobState.CANCELLED:
        return job_reason or "stopped"
    return f"its job ended {job_state}: {job_reason}" if job_reason else f"job {job_state}"


def parse_time(text: str | None) -> float | None:
    """JupyterLab's ISO-8601 times (``2026-12-01T15:34:36.953177Z``) as POSIX seconds."""
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def last_activity(
    kernels: Iterable[Mapping[str, Any]],
    terminals: Iterable[Mapping[str, Any]],
    *,
    since: float,
    now: float,
) -> float:
    """When a kernel or terminal was last active: a busy kernel is active now; else the
    latest ``last_activity`` of kernels and terminals, never before ``since`` (the session
    became ready). HTTP requests alone (a browser tab left open) are no activity."""
    latest = since
    for k in kernels:
        if k.get("execution_state") == "busy":
            return now
        t = parse_time(k.get("last_activity"))
        if t is not None:
            latest = max(latest, t)
    for term in terminals:
        t = parse_time(term.get("last_activity"))
        if t is not None:
            latest = max(latest, t)
    return min(latest, now)


def idle_limit(class_idle_s: float | None, setting_s: float) -> float:
    """The longest a session of a class may stay idle: the class's ``idle_s`` in the
    policy, else the center's setting (0: never culled)."""
    return setting_s if class_idle_s is None else class_idle_s


def is_idle(last_active: float, now: float, idle_timeout_s: float) -> bool:
    return idle_timeout_s > 0 and now - last_active >= idle_timeout_s
