"""The controller's periodic accounting step: allocations along the calendar, then metering.

Every ``every_s`` (``AIDC_METER_EVERY_S``): ``grants.advance`` starts approved allocations
whose start came and expires active ones whose end passed (opening or closing credit
accounts and quota) and ``storage_meter.meter_storage`` writes each organisation's stored
bytes for the day, then ``metering.meter`` writes what ran and what capacity was up into
the ledger. Runs that end are metered when they are recorded (``execution.on_run_ended``),
not here. Before that, uploads not committed within ``AIDC_UPLOAD_EXPIRE_S`` are dropped
(``datasets_expiry``). A failure is logged and tried again on the next step; metering picks up where
the ledger ends, so nothing is lost by a missed step.
"""

from __future__ import annotations

import logging
import math

from aidc.services import datasets_expiry, grants, metering, storage_meter
from aidc.services.center import Center

log = logging.getLogger("aidc.controller")


class Accounting:
    def __init__(self, center: Center, every_s: float) -> None:
        self.center = center
        self.every_s = every_s
        # The first pass meters at once: after a restart, what ran while the server was
        # down is written without waiting a whole interval.
        self._done_at = -math.inf

    def step(self, force: bool = False) -> metering.Metered | None:
        """Advance allocations and meter, if ``every_s`` has passed since the last time."""
        now = self.center.clock()
        if not force and now - self._done_at < self.every_s:
            return None
        self._done_at = now
        try:
            expired = datasets_expiry.expire_uploads(self.center, now)
            if expired:
                log.info("uploads expired without a commit: %s", expired)
        except Exception:
            log.exception("dropping expired uploads failed; trying again in %.0fs", self.every_s)
        try:
            with self.center.db.transaction() as s:
                changed = grants.advance(s, now)
                storage_meter.meter_storage(s, now)
            if changed:
                log.info("allocations started or expired: %s", changed)
            return metering.meter(self.center, now)
        except Exception:
            log.exception("accounting step failed; trying again in %.0fs", self.every_s)
            return None
