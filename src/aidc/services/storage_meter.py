"""The daily storage meter (issue 6): each organisation's stored bytes (its dataset
versions and its projects' airlocked outputs) on each UTC day, in ``storage_ledger``.

``meter_storage(s, now)`` is idempotent: it writes (or rewrites) today's row per
organisation with the bytes held now; a day's row is final once the day is over, so
running it every accounting pass, or after a restart, never counts a day twice.
byte_days for a day is its bytes x 1 (one day).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.services.datasets_quota import used_bytes
from aidc.store.models import Organisation
from aidc.store.models_datasets import StorageLedgerEntry


def utc_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y-%m-%d")


def meter_storage(s: Session, now: float) -> int:
    """Write today's storage row of every organisation holding bytes (or with a row
    today already); the number of rows written."""
    day = utc_day(now)
    existing = {
        e.org_id: e
        for e in s.scalars(select(StorageLedgerEntry).where(StorageLedgerEntry.day == day))
    }
    written = 0
    for org_id in s.scalars(select(Organisation.id)):
        held = used_bytes(s, org_id)
        row = existing.get(org_id)
        if row is None:
            if held == 0:
                continue
            s.add(
                StorageLedgerEntry(
                    org_id=org_id, day=day, bytes=held, byte_days=float(held), metered_at=now
                )
            )
        else:
            # Today's row follows the bytes held at the latest pass (the day's last word).
            row.bytes, row.byte_days, row.metered_at = held, float(held), now
        written += 1
    return written
