"""What the controller knows about its engines between passes: which cannot be reached
(and since when), and when their node inventories were last read.

An engine that cannot be asked (``EngineUnavailable``) does not end its jobs at once: a
daemon restart is routine. Its jobs are left as they are and asked about again every pass;
once it has been unreachable for ``lost_after_s`` they are recorded LOST with the engine's
own message, and its nodes are shown DOWN with that message at the next inventory read, so
nothing new is placed there.
"""

from __future__ import annotations

import logging
import math

from aidc.engines.base import (
    AccountSync,
    Engine,
    EngineStatus,
    EngineUnavailable,
    Handle,
    Outcome,
)
from aidc.services import nodes, tenancy
from aidc.services.center import Center

log = logging.getLogger("aidc.controller")
RETRY_DOWN_S = 5.0


class EngineHealth:
    def __init__(self, center: Center, lost_after_s: float, inventory_every_s: float) -> None:
        self.center = center
        self.lost_after_s = lost_after_s
        self.inventory_every_s = inventory_every_s
        # engine -> (first failure on the center's clock, the engine's message)
        self._down: dict[str, tuple[float, str]] = {}
        # bootstrap read the inventories just before the controller starts.
        self._inventory_read_at = center.clock()

    def poll(self, name: str, engine: Engine, handle: Handle) -> EngineStatus | None:
        """``engine.poll(handle)``; None while the engine cannot be reached, LOST once it
        has been unreachable for ``lost_after_s``."""
        try:
            status = engine.poll(handle)
        except EngineUnavailable as e:
            return self.failed(name, str(e))
        self._answered(name)
        return status

    def failed(self, engine: str, message: str) -> EngineStatus | None:
        now = self.center.clock()
        if engine not in self._down:
            # Nothing more is placed there until it answers an inventory read again.
            why = f"engine {engine} does not answer: {message}"
            nodes.refresh_engine_nodes(self.center, engine, None, why)
        since, _ = self._down.setdefault(engine, (now, message))
        self._down[engine] = (since, message)
        if now - since < self.lost_after_s:
            return None
        return EngineStatus(
            Outcome.LOST,
            reason=f"engine {engine} has not answered for {now - since:.0f}s: {message}",
        )

    def unreachable(self, engine: str) -> str | None:
        down = self._down.get(engine)
        return down[1] if down else None

    def refresh_inventory(self, force: bool = False) -> None:
        """Read every engine's nodes (states and drain reasons included) into the store,
        every ``inventory_every_s``."""
        now = self.center.clock()
        # While an engine is down, look more often, so its nodes come back soon after it.
        every = min(self.inventory_every_s, RETRY_DOWN_S) if self._down else self.inventory_every_s
        if not force and now - self._inventory_read_at < every:
            return
        self._inventory_read_at = now
        for name, engine in self.center.engines.items():
            try:
                reported = engine.inventory()
            except EngineUnavailable as e:
                self.failed(name, str(e))
                continue
            except Exception:
                log.exception("engine %s failed to report its nodes", name)
                continue
            self._down.pop(name, None)
            nodes.refresh_engine_nodes(self.center, name, reported, "")
            if isinstance(engine, AccountSync):
                self._sync_accounts(name, engine)

    def sync_accounts(self) -> None:
        """Every engine's accounts now (at start; then with each inventory read)."""
        for name, engine in self.center.engines.items():
            if isinstance(engine, AccountSync):
                self._sync_accounts(name, engine)

    def _sync_accounts(self, name: str, engine: AccountSync) -> None:
        """Projects and their shares as the engine's own accounts (new projects, changed
        shares), so its accounting and fair share agree with aidc's."""
        try:
            engine.sync_accounts(tenancy.project_accounts(self.center))
        except Exception:
            log.exception("engine %s failed to sync its accounts; trying again later", name)

    def _answered(self, name: str) -> None:
        if self._down.pop(name, None) is not None:
            self._inventory_read_at = -math.inf  # its nodes come back on the next pass
