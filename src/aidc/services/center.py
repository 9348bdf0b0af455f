"""What every use case needs: the database, the clock, and the domain event bus."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aidc.core.tenancy import Principal
from aidc.engines.base import Engine
from aidc.services.usage import LedgerUsage, UsageSource
from aidc.store.db import Database

if TYPE_CHECKING:
    from aidc.services.datasets_place import DatasetPlace

Clock = Callable[[], float]
Listener = Callable[[str, dict[str, Any]], None]


class EventBus:
    """In-process domain events ("job.submitted", "job.finished", ...) for subscribers such
    as the controller (wake up) and, later, accounting and audit."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Listener]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, topic: str, fn: Listener) -> None:
        with self._lock:
            self._subs[topic].append(fn)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs.get(topic, ())) + list(self._subs.get("*", ()))
        for fn in subs:
            fn(topic, payload)


@dataclass
class Center:
    db: Database
    clock: Clock = time.time
    bus: EventBus = field(default_factory=EventBus)
    engines: dict[str, Engine] = field(default_factory=dict)
    # token hash -> (principal, token expiry, cached until); see services.auth.
    auth_cache: dict[str, tuple[Principal, float | None, float]] = field(default_factory=dict)
    # Where fair share reads usage: the ledger (see services.metering).
    usage: UsageSource = field(default_factory=lambda: LedgerUsage())
    # Where dataset bytes live and the storage rules (None: no dataset catalog).
    datasets: DatasetPlace | None = None
    # Queued jobs one user may have at once (AIDC_MAX_QUEUED_PER_USER); None: no cap.
    max_queued_per_user: int | None = None
