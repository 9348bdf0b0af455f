"""A month's report from runs the real meter wrote: runs that cross the month's bounds,
a preempted run and a running one, checked against hours worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aidc.engines.base import EngineStatus, Outcome
from aidc.services import execution, metering, reports
from aidc.services.center import Center
from tests.integration.ledger_helpers import start_job
from tests.integration.tenants import make_tenants


def at(center: Center, text: str) -> None:
    when = datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    center.clock = lambda: when


def test_november_matches_hours_worked_out_by_hand(center: Center) -> None:
    t = make_tenants(center)
    # acme-a: 2 a100 from Oct 31 22:00 to Nov 1 01:30 (2 h of it in November).
    at(center, "2026-10-31T22:00:00")
    early = start_job(center, t, accelerators=2)
    at(center, "2026-10-31T23:59:00")
    metering.meter(center)
    at(center, "2026-11-01T01:30:00")
    assert execution.record_status(center, early, EngineStatus(Outcome.SUCCEEDED, 0))
    # beta-b: 1 a100 from Nov 10 08:00, metered now and then, ended at 17:15:30.
    at(center, "2026-11-10T08:00:00")
    mid = start_job(center, t, project="beta-b", accelerators=1, cpus=4)
    for when in ("2026-11-10T08:01:00", "2026-11-10T12:00:00", "2026-11-10T12:00:00"):
        at(center, when)
        metering.meter(center)
    at(center, "2026-11-10T17:15:30")
    assert execution.record_status(center, mid, EngineStatus(Outcome.FAILED, 1))
    # acme-a: 4 a100 from Nov 30 23:00, still running on Dec 1 02:00 (1 h in November).
    at(center, "2026-11-30T23:00:00")
    late = start_job(center, t, accelerators=4)
    at(center, "2026-12-01T02:00:00")
    metering.meter(center)
    assert late

    nov = reports.usage(center, t.root, by=["org", "accelerator-type"], month="2026-11")
    got = {(r.keys["org"], r.keys["accelerator-type"]): r for r in nov.rows}
    acme_s = 2 * 1.5 * 3600 + 4 * 3600  # Nov 1 00:00-01:30 on 2, Nov 30 23:00-24:00 on 4
    beta_s = 1 * (9 * 3600 + 15 * 60 + 30)
    assert got[("Acme", "a100")].accelerator_seconds == acme_s
    assert got[("Beta", "a100")].accelerator_seconds == beta_s
    assert nov.totals.accelerator_seconds == acme_s + beta_s
    assert math.isclose(nov.totals.pf_hours, (acme_s + beta_s) / 3600 * 0.312)
    assert math.isclose(got[("Beta", "a100")].cpu_hours, 4 * beta_s / 3600)
    # October and December hold the rest, to the second.
    oct_ = reports.usage(center, t.root, by=[], month="2026-10")
    dec = reports.usage(center, t.root, by=[], month="2026-12")
    assert oct_.totals.accelerator_seconds == 2 * 2 * 3600
    assert dec.totals.accelerator_seconds == 4 * 2 * 3600
    # An org admin's report holds only their organisation.
    mine = reports.usage(center, t.alice, by=["org"], month="2026-11")
    assert [r.keys["org"] for r in mine.rows] == ["Acme"]
    assert mine.totals.accelerator_seconds == acme_s
