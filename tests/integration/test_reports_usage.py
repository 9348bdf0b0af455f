"""Usage reports on known ledger entries: exact seconds, periods, programs, scoping, CSV."""

from __future__ import annotations

import csv
import io

import pytest

from aidc.core.accelerators import CATALOG
from aidc.services import auth, reports, tenancy
from aidc.services.center import Center
from aidc.services.errors import Invalid
from tests.integration import ledger_rows as L
from tests.integration.tenants import Tenants, make_tenants

A100, H100 = CATALOG["a100"].peak_pf, CATALOG["h100"].peak_pf


@pytest.fixture
def tenants(center: Center) -> Tenants:
    t = make_tenants(center)
    with center.db.transaction() as s:
        L.set_org(s, "Acme", sector="manufacturing", region="gwangju")
        L.set_org(s, "Beta", sector="education", region="seoul")
        _, accts = L.allocation(
            s,
            "acme-a",
            granted={"a100": 100.0},
            starts_at=L.at("2026-10-01 00:00"),
            ends_at=L.at("2027-01-01 00:00"),
        )
        a1 = L.job(s, "acme-a")
        # November: 2 devices x 2.5 h on the 3rd, debiting the voucher.
        L.entry(
            s,
            a1,
            L.at("2026-11-03 10:00"),
            L.at("2026-11-03 12:30"),
            devices=2,
            account=accts["a100"],
            credits=5.0,
        )
        # A second attempt of the same job the same day: still one job run more.
        L.entry(s, a1, L.at("2026-11-03 13:00"), L.at("2026-11-03 13:10"), attempt=2)
        b1 = L.job(s, "beta-b")
        # Crossing midnight into December: the meter wrote it as two entries.
        L.entry(s, b1, L.at("2026-11-30 22:00"), L.at("2026-12-01 00:00"), acc="h100")
        L.entry(s, b1, L.at("2026-12-01 00:00"), L.at("2026-12-01 01:30"), acc="h100")
        # The neighbouring months.
        a2 = L.job(s, "acme-a")
        L.entry(s, a2, L.at("2026-10-31 23:00"), L.at("2026-11-01 00:00"))
        L.entry(s, a2, L.at("2026-12-02 08:00"), L.at("2026-12-02 09:00"))
    return t


def test_a_month_matches_hand_computed_seconds(center: Center, tenants: Tenants) -> None:
    r = reports.usage(center, tenants.root, by=["org-kind", "month"], month="2026-11")
    assert r.period.start == "2026-11-01T00:00:00+00:00"
    assert r.period.end == "2026-12-01T00:00:00+00:00"
    rows = {(x.keys["org-kind"], x.keys["month"]): x for x in r.rows}
    assert list(rows) == [("startup", "2026-11"), ("university", "2026-11")]
    startup, university = rows[("startup", "2026-11")], rows[("university", "2026-11")]
    assert startup.accelerator_seconds == 2 * 9000 + 600
    assert startup.jobs == 2  # (a1, attempt 1) and (a1, attempt 2)
    assert startup.pf_hours == pytest.approx(18600 / 3600 * A100, abs=1e-12)
    assert startup.credits == 5.0
    assert university.accelerator_seconds == 7200
    assert university.accelerator_hours == 2.0
    assert university.pf_hours == pytest.approx(2 * H100, abs=1e-12)
    assert university.cpu_hours == 8.0 and university.memory_gb_hours == 32.0
    assert r.totals.accelerator_seconds == 18600 + 7200
    assert r.totals.jobs == 3


def test_all_time_from_to_days_and_programs(center: Center, tenants: Tenants) -> None:
    every = reports.usage(center, tenants.root, by=[])
    assert len(every.rows) == 1 and every.rows[0].keys == {}
    assert every.totals.accelerator_seconds == 18600 + 7200 + 5400 + 3600 + 3600
    december = reports.usage(
        center, tenants.root, by=["day", "accelerator-type"], from_="2026-12-01", to="2026-12-03"
    )
    assert [
        (x.keys["day"], x.keys["accelerator-type"], x.accelerator_seconds) for x in december.rows
    ] == [
        ("2026-12-01", "h100", 5400.0),
        ("2026-12-02", "a100", 3600.0),
    ]
    progs = reports.usage(center, tenants.root, by=["program", "org"], month="2026-11")
    assert [(x.keys["program"], x.keys["org"], x.accelerator_seconds) for x in progs.rows] == [
        ("", "Acme", 600.0),  # attempt 2 debited no account
        ("", "Beta", 7200.0),
        ("voucher", "Acme", 18000.0),
    ]
    regions = reports.usage(
        center, tenants.root, by=["region", "sector", "project"], month="2026-11"
    )
    assert [tuple(x.keys.values()) for x in regions.rows] == [
        ("gwangju", "manufacturing", "acme-a"),
        ("seoul", "education", "beta-b"),
    ]


def test_an_entry_across_the_bound_is_clipped_in_proportion(
    center: Center, tenants: Tenants
) -> None:
    with center.db.transaction() as s:
        seq = L.job(s, "beta-b")
        # Should not happen (the meter splits at midnight), but if it does: 2 h, half in each.
        L.entry(s, seq, L.at("2026-09-30 23:00"), L.at("2026-10-01 01:00"), devices=3, credits=2.0)
    oct_ = reports.usage(center, tenants.root, by=["day"], month="2026-10")
    assert [(x.keys["day"], x.accelerator_seconds, x.credits) for x in oct_.rows] == [
        ("2026-10-01", 3 * 3600.0, 1.0),
        ("2026-10-31", 3600.0, 0.0),
    ]
    sep = reports.usage(center, tenants.root, by=["day"], from_="2026-09-30", to="2026-10-01")
    assert sep.totals.accelerator_seconds == 3 * 3600.0 and sep.totals.jobs == 1
    # All time, by day: split at midnight, the whole entry counted once.
    days = reports.usage(center, tenants.root, by=["day"], from_="2026-09-01")
    assert {x.keys["day"]: x.accelerator_seconds for x in days.rows}["2026-09-30"] == 3 * 3600.0


def test_an_org_admin_sees_only_their_organisation(center: Center, tenants: Tenants) -> None:
    for who in (tenants.alice, tenants.bob, tenants.vic):
        r = reports.usage(center, who, by=["org", "project"])
        assert {x.keys["org"] for x in r.rows} == {"Acme"}
        assert r.totals.accelerator_seconds == 18600 + 3600 + 3600
    carol = reports.usage(center, tenants.carol, by=["org"])
    assert [x.keys["org"] for x in carol.rows] == ["Beta"]
    assert carol.totals.accelerator_seconds == 7200 + 5400


def test_bad_input_names_the_field(center: Center, tenants: Tenants) -> None:
    with pytest.raises(Invalid) as e:
        reports.usage(center, tenants.root, by=["colour"])
    assert e.value.field == "by" and "org-kind" in e.value.message
    for kw, field in [
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-11", "from_": "2026-11-01"}, "month"),
        ({"from_": "yesterday"}, "from"),
        ({"from_": "2026-11-02", "to": "2026-11-01"}, "to"),
    ]:
        with pytest.raises(Invalid) as e:
            reports.usage(center, tenants.root, by=["org"], **kw)  # type: ignore[arg-type]
        assert e.value.field == field


def test_csv_parses_and_equals_the_json(center: Center, tenants: Tenants) -> None:
    r = reports.usage(center, tenants.root, by=["org", "program", "month"])
    rows = list(csv.DictReader(io.StringIO(reports.csv_text(r))))
    assert [row["row"] for row in rows] == ["group"] * len(r.rows) + ["total"]
    for row, want in zip(rows, [*r.rows, r.totals], strict=True):
        keys = getattr(want, "keys", {k: "" for k in r.by})
        assert {k: row[k] for k in r.by} == keys
        for m in ("accelerator_hours", "accelerator_seconds", "pf_hours", "cpu_hours"):
            assert float(row[m]) == getattr(want, m)
        assert float(row["memory_gb_hours"]) == want.memory_gb_hours
        assert float(row["credits"]) == want.credits and int(row["jobs"]) == want.jobs


def test_members_see_their_projects_and_reviewers_the_center(
    center: Center, tenants: Tenants
) -> None:
    tenancy.create_user(center, "dave", "Acme", "member")  # in Acme, in no project
    tenancy.create_user(center, "rita", "Center", "reviewer")
    dave, rita = (auth.authenticate(center, auth.issue_token(center, u)) for u in ("dave", "rita"))
    nothing = reports.usage(center, dave, by=["org"])
    assert nothing.rows == [] and nothing.totals.accelerator_seconds == 0
    everything = reports.usage(center, rita, by=["org"])
    assert [x.keys["org"] for x in everything.rows] == ["Acme", "Beta"]
    assert everything.totals == reports.usage(center, tenants.root, by=["org"]).totals
