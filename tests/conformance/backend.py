"""What the conformance suite needs from each engine under test.

One ``Backend`` per engine kind: it says whether the engine can run here, builds a fresh
engine object (a controller restart builds another one over the same cluster), names the
pool and nodes the center schedules on, and can take the engine's daemons away and bring
them back (for the "engine goes away" test). Backends live in ``backend_<kind>.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine


class Backend(Protocol):
    kind: str
    # Extra seconds this engine may take over the local engine to notice a stop or a time
    # limit (Slurm's controller checks limits on its own period).
    margin_s: float

    def unavailable(self) -> str | None:
        """Why this engine cannot run here (the test skips, or fails in CI), else None."""

    def engine(self, home: Path, grace_s: float) -> Engine:
        """A new engine object over the same cluster; ``home`` is the aidc home."""

    def inventory(self, engine: Engine) -> tuple[list[Pool], list[Node]]:
        """The pool(s) and nodes the center schedules on, each node with >= 2 GPUs; at
        least two nodes, so that a 2-node job fits."""

    def break_engine(self) -> None:
        """Stop the engine's daemon(s): its jobs can no longer be asked about."""

    def repair_engine(self) -> None:
        """Bring the daemon(s) back as before ``break_engine``."""
