"""The local engine as a conformance backend: two virtual nodes of 2 GPUs on this host."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil

from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine
from aidc.engines.local import SHIM, LocalEngine


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
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if str(SHIM) not in cmdline:
                continue
            if not any(str(h) in arg for h in self._homes for arg in cmdline):
                continue
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()

    def repair_engine(self) -> None:
        pass  # new jobs get new supervisors
