"""The daily storage meter: each organisation's bytes per UTC day, written idempotently."""

from __future__ import annotations

from sqlalchemy import select

from aidc.controller.accounting import Accounting
from aidc.services.center import Center
from aidc.services.storage_meter import meter_storage, utc_day
from aidc.store.models import Organisation
from aidc.store.models_datasets import StorageLedgerEntry
from tests.integration.datasets_env import DataTenants, make_dataset, upload

DAY = 86400.0
T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def rows(c: Center) -> dict[tuple[str, str], tuple[int, float]]:
    with c.db.read() as s:
        names = {i: n for i, n in s.execute(select(Organisation.id, Organisation.name))}
        return {
            (names[e.org_id], e.day): (e.bytes, e.byte_days)
            for e in s.scalars(select(StorageLedgerEntry))
        }


def test_bytes_per_organisation_per_day_and_running_twice_counts_once(
    dc: Center, people: DataTenants
) -> None:
    make_dataset(dc, people.t.alice, "acme-data", "public", owner="Acme")
    upload(dc, people.t.bob, "acme-data", {"a": b"x" * 1000, "b": b"y" * 500})
    make_dataset(dc, people.t.root, "central", "public")  # the center's: not metered
    upload(dc, people.t.root, "central", {"c": b"z" * 10})
    for now in (T0, T0 + 60):  # two passes on one day
        with dc.db.transaction() as s:
            meter_storage(s, now)
    assert rows(dc) == {("Acme", utc_day(T0)): (1500, 1500.0)}
    upload(dc, people.t.bob, "acme-data", {"a": b"x" * 100})
    with dc.db.transaction() as s:
        meter_storage(s, T0 + DAY)
    assert rows(dc) == {
        ("Acme", utc_day(T0)): (1500, 1500.0),
        ("Acme", utc_day(T0 + DAY)): (1600, 1600.0),
    }


def test_the_controllers_accounting_step_meters_storage(dc: Center, people: DataTenants) -> None:
    make_dataset(dc, people.t.alice, "acme-data", "public", owner="Acme")
    upload(dc, people.t.bob, "acme-data", {"a": b"x" * 700})
    dc.clock = lambda: T0
    assert Accounting(dc, every_s=60).step() is not None
    assert rows(dc) == {("Acme", utc_day(T0)): (700, 700.0)}
