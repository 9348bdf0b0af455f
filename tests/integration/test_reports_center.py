"""The center's utilisation and allocation burn-down on known ledgers and grants."""

from __future__ import annotations

import pytest

from aidc.core.accelerators import CATALOG
from aidc.core.tenancy import Principal
from aidc.services import auth, reports_center, tenancy
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound
from tests.integration import ledger_rows as L
from tests.integration.tenants import Tenants, make_tenants

NOV, DEC = L.at("2026-11-01 00:00"), L.at("2026-12-01 00:00")
DAY = 86400.0


@pytest.fixture
def setup(center: Center) -> tuple[Tenants, Principal, int]:
    t = make_tenants(center)
    tenancy.create_user(center, "rita", "Center", "reviewer")
    rita = auth.authenticate(center, auth.issue_token(center, "rita"))
    with center.db.transaction() as s:
        a, accts = L.allocation(
            s,
            "acme-a",
            granted={"a100": 100.0, "pf": 50.0},
            starts_at=NOV,
            ends_at=DEC,
            used={"a100": 30.0},
        )
        # Ended before November: no share of it is allocated then.
        L.allocation(
            s,
            "beta-b",
            granted={"h100": 60.0},
            starts_at=L.at("2026-10-01 00:00"),
            ends_at=NOV,
            state="expired",
        )
        # Asked for, not granted: never counts.
        L.allocation(
            s, "beta-b", granted={"h100": 999.0}, starts_at=NOV, ends_at=DEC, state="requested"
        )
        for day in range(30):
            L.capacity(s, NOV + day * DAY, NOV + (day + 1) * DAY, acc="a100", devices=4)
        L.capacity(s, NOV, NOV + DAY, acc="h100", devices=2, pool="hpc")
        seq = L.job(s, "acme-a")
        acct = accts["a100"]
        L.entry(
            s,
            seq,
            L.at("2026-11-03 08:00"),
            L.at("2026-11-03 18:00"),
            devices=2,
            account=acct,
            credits=20.0,
        )
        L.entry(
            s,
            seq,
            L.at("2026-11-05 00:00"),
            L.at("2026-11-05 03:30"),
            devices=2,
            account=acct,
            credits=7.0,
        )
        L.entry(
            s,
            seq,
            L.at("2026-11-09 10:00"),
            L.at("2026-11-09 13:30"),
            devices=2,
            account=acct,
            credits=7.0,
        )
    return t, rita, a.id


def test_utilisation_of_a_month_and_of_half_of_it(
    center: Center, setup: tuple[Tenants, Principal, int]
) -> None:
    t, rita, _ = setup
    for who in (t.root, rita):
        r = reports_center.utilisation(center, who, month="2026-11")
        rows = {x.accelerator_type: x for x in r.rows}
        assert list(rows) == ["a100", "h100"]
        a100, h100 = rows["a100"], rows["h100"]
        assert a100.capacity_device_hours == 4 * 24 * 30
        assert a100.capacity_pf_hours == pytest.approx(4 * 24 * 30 * CATALOG["a100"].peak_pf)
        assert a100.allocated_hours == 100.0 and h100.allocated_hours == 0.0
        assert a100.used_hours == 2 * (10 + 3.5 + 3.5)
        assert a100.utilisation == pytest.approx(34 / 2880)
        assert a100.pf_delivered == pytest.approx(34 / 2880)
        assert h100.capacity_device_hours == 48 and h100.used_hours == 0 and h100.utilisation == 0
        assert r.allocated_pf_hours == 50.0
        assert r.total.capacity_device_hours == 2880 + 48 and r.total.used_hours == 34
    half = reports_center.utilisation(center, t.root, from_="2026-11-01", to="2026-11-16")
    a100 = half.rows[0]
    assert (a100.capacity_device_hours, a100.allocated_hours) == (4 * 24 * 15, 50.0)
    assert half.allocated_pf_hours == 25.0
    october = reports_center.utilisation(center, t.root, month="2026-10")
    assert [(x.accelerator_type, x.allocated_hours, x.utilisation) for x in october.rows] == [
        ("h100", 60.0, None)
    ]


def test_utilisation_is_for_operators_and_reviewers(
    center: Center, setup: tuple[Tenants, Principal, int]
) -> None:
    t, _, _ = setup
    for who in (t.alice, t.bob, t.carol):
        with pytest.raises(Forbidden):
            reports_center.utilisation(center, who)


def test_burndown_projects_exhaustion_at_the_trailing_rate(
    center: Center, setup: tuple[Tenants, Principal, int]
) -> None:
    t, rita, alloc = setup
    center.clock = lambda: L.at("2026-11-10 12:00")
    for b in (
        reports_center.burndown(center, t.alice, allocation=alloc),
        reports_center.burndown(center, t.bob, project="acme-a"),
        reports_center.burndown(center, rita, project="acme-a"),
    ):
        assert [x.allocation_id for x in b] == [alloc]
        res = {r.resource: r for r in b[0].resources}
        a100, pf = res["a100"], res["pf"]
        assert (a100.granted_hours, a100.used_hours, a100.remaining_hours) == (100, 30, 70)
        assert [(p.day, p.used, p.cumulative) for p in a100.series] == [
            ("2026-11-03", 20.0, 20.0),
            ("2026-11-05", 7.0, 27.0),
            ("2026-11-09", 7.0, 34.0),
        ]
        # Nov 4..10: 14 hours in 7 days = 2 a day; 70 left -> 35 days after Nov 10 12:00.
        assert a100.rate_per_day == 2.0 and a100.projected_exhaustion == "2026-12-15"
        assert not a100.exhausted
        assert (pf.rate_per_day, pf.projected_exhaustion, pf.series) == (0.0, None, [])
    assert b[0].program == "voucher" and b[0].project == "acme-a"


def test_burndown_of_another_organisation_is_not_found(
    center: Center, setup: tuple[Tenants, Principal, int]
) -> None:
    t, _, alloc = setup
    with pytest.raises(NotFound):
        reports_center.burndown(center, t.carol, allocation=alloc)
    with pytest.raises(NotFound):
        reports_center.burndown(center, t.carol, project="acme-a")
    with pytest.raises(Invalid):
        reports_center.burndown(center, t.root)
    with pytest.raises(Invalid):
        reports_center.burndown(center, t.root, allocation=alloc, project="acme-a")
