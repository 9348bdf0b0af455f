"""The local engine as a conformance backend: two virtual nodes of 2 GPUs on this host."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil

from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine
from aidc.engines.local import LocalEngine
from aidc.engines.local_spawner import SHIM


class LocalBackend:
    kind = "local"
    margin_s = 0.0

    def __init__(self) -> None:
        self._homes: list[Path] = []

    def unavailable(self) -> str | None:
        return None

    def engine(self, home: Path, grace_s: float) -> Engine:
        self._homes.append(home)
        nodes = [
            Node(f"cn-{i}", "local", 4, 8192, "a100", (0, 1), {"pool": "local"}) for i in (1, 2)
        ]
        return LocalEngine(home, nodes, grace_s=grace_s)

    def inventory(self, engine: Engine) -> tuple[list[Pool], list[Node]]:
        return [Pool("local", "local")], engine.inventory()

    def break_engine(self) -> None:
        """The local engine's daemons are its job supervisors: kill them (and their jobs)
        the way a host crash or an OOM killer would, without a word to aidc."""
        for proc in psutil.process_iter(["cmdline", "cwd"]):
            # Supervisors are forked by the fork server, so they share its command line;
            # each runs in its own run folder.
            if str(SHIM) not in (proc.info["cmdline"] or []):
                continue
            if not any(str(proc.info["cwd"] or "").startswith(str(h)) for h in self._homes):
                continue
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()

    def repair_engine(self) -> None:
        pass  # new jobs get new supervisors
