"""The engine protocol: how aidc hands a placed job to something that runs it.

Engines execute what the scheduler decided; they never decide. A handle is the engine's
JSON-serialisable note of where a launched job lives; the store keeps it so that a restarted
server can find the job again (``poll``) instead of starting it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aidc.core.jobspec import JobSpec
from aidc.core.resources import Node, Placement

Handle = dict[str, Any]


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    LOST = "lost"
    # Stopped on request to make room for another job (it goes back to the queue).
    PREEMPTED = "preempted"


@dataclass(frozen=True, slots=True)
class Environment:
    """A named software environment a job runs in (docs/notebooks.md, "Environments"):
    a built virtualenv whose ``bin`` goes first on PATH (local engine), modules the Slurm
    and Ray engines load on the node (``engines.env_modules``), a container image. Every
    engine also passes them to the job as ``AIDC_ENVIRONMENT*`` variables."""

    name: str
    venv: str = ""
    modules: tuple[str, ...] = ()
    image: str = ""


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    job_id: str
    project: str
    spec: JobSpec
    placement: Placement
    # The effective limit (the spec's, or its class default).
    time_limit_s: float
    # Run number: 1 for the first launch, more after requeues.
    attempt: int = 1
    # The project's organisation (engines map it to an account or a Unix identity).
    organisation: str = ""
    # The spec's named environment, resolved (None: the node's own software).
    environment: Environment | None = None


@dataclass(frozen=True, slots=True)
class EngineStatus:
    outcome: Outcome
    exit_code: int | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Capability(StrEnum):
    """What an engine can do beyond running one process tree on one node."""

    # A gang over several nodes, with RANK/WORLD_SIZE/MASTER_ADDR env on every rank.
    MULTI_NODE = "multi-node"
    # Ports a user's browser may reach (notebooks, dashboards).
    INTERACTIVE_PORTS = "interactive-ports"
    # Catalogued datasets mounted read-only into the job.
    DATASET_MOUNTS = "dataset-mounts"


class LaunchError(Exception):
    """The engine could not start the job; the message says why in the user's terms."""


class EngineUnavailable(Exception):
    """The engine cannot be asked now (its daemon is down or unreachable). The controller
    keeps the job as it is and asks again; after ``engine_lost_after_s`` it records the
    job LOST with this message."""


@runtime_checkable
class Engine(Protocol):
    name: str
    capabilities: frozenset[Capability]

    def inventory(self) -> list[Node]:
        """The nodes this engine runs jobs on."""

    def launch(self, job: LaunchRequest) -> Handle:
        """Start ``job`` on its placement; returns at once with a handle."""

    def poll(self, handle: Handle) -> EngineStatus:
        """Where the job stands now; LOST when the engine no longer knows it. Raises
        EngineUnavailable when the engine cannot be asked."""

    def recover(self, job_id: str, attempt: int | None = None) -> Handle | None:
        """A handle for run ``attempt`` (None: the latest) of a job whose launch was
        interrupted, if that run did start; else None."""

    def cancel(self, handle: Handle) -> None:
        """Ask the job to stop: a grace signal, then a kill after the engine's grace period."""

    def preempt(self, handle: Handle, grace_s: float, reason: str = "") -> None:
        """Ask the job to stop to make room: SIGTERM to all of it, SIGKILL to what is left
        after ``grace_s``. Returns at once; the engine enforces the grace. ``poll`` then
        reports PREEMPTED (even for a job that exits 0 within the grace: it was told to
        stop), unless the job had already ended by itself before the signal."""

    def read_log(self, handle: Handle, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes of the job's combined stdout/stderr from ``offset``."""

    def set_listener(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` (from any thread) when a job's state may have changed."""

    def close(self) -> None:
        """Release engine resources; running jobs keep running."""


@dataclass(frozen=True, slots=True)
class DatasetView:
    """A run's datasets: the variables that point the job at them, and the folders it must
    not change (the views and the folders their links lead into), which engines run the
    command with read-only where they can (``engines.dataset_view``)."""

    env: dict[str, str]
    read_only: tuple[str, ...] = ()


class DatasetProvider(Protocol):
    """What engines with DATASET_MOUNTS ask before a run starts: a read-only view of the
    job's datasets in ``run_dir`` (raises LaunchError when the run may not read them)."""

    def prepare(self, job: LaunchRequest, run_dir: Path) -> DatasetView: ...


@runtime_checkable
class AccountSync(Protocol):
    """An engine with accounts of its own (Slurm), kept in step with aidc's projects."""

    def sync_accounts(self, projects: Iterable[tuple[str, str, float]]) -> None:
        """Make an account for every (project, organisation, shares), with its shares."""


@runtime_checkable
class InteractivePorts(Protocol):
    """An engine with ``Capability.INTERACTIVE_PORTS``: it says where a run's interactive
    server (a notebook's JupyterLab) listens, once the run has said so itself (see
    ``aidc.engines.interactive``)."""

    def interactive_address(self, handle: Handle) -> str | None:
        """``host:port`` the aidc server can reach, or None while not known yet."""


@runtime_checkable
class BatchLaunch(Protocol):
    """An engine that starts a batch faster than one job at a time (the local engine:
    one round trip to its fork server for the whole batch)."""

    def launch_many(self, jobs: list[LaunchRequest]) -> list[Handle | Exception]: ...


def launch_all(engine: Engine, jobs: list[LaunchRequest]) -> list[Handle | Exception]:
    """``engine.launch`` for each job (``launch_many`` where the engine has it); each
    result a handle or the exception its launch raised. A job that names datasets is
    refused by an engine without DATASET_MOUNTS: it would run without the launch-time
    grant check and without its data."""
    results: list[Handle | Exception | None] = [None] * len(jobs)
    todo = list(range(len(jobs)))
    if Capability.DATASET_MOUNTS not in engine.capabilities:
        for i in [i for i in todo if jobs[i].spec.datasets]:
            results[i] = LaunchError(f"the {engine.name} engine cannot give jobs datasets")
        todo = [i for i in todo if results[i] is None]
    if isinstance(engine, BatchLaunch):
        for i, r in zip(todo, engine.launch_many([jobs[i] for i in todo]), strict=True):
            results[i] = r
    else:
        for i in todo:
            try:
                results[i] = engine.launch(jobs[i])
            except Exception as e:
                results[i] = e
    return [r for r in results if r is not None]
