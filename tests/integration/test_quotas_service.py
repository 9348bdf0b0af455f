"""Quota tree use cases against a real database: validation, cycles, isolation, use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from sqlalchemy import event

from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement
from aidc.scheduler import Decision
from aidc.scheduler.snapshot import QuotaLimit, QuotaNode
from aidc.services import auth, execution, jobs, quota_admin, quota_views, tenancy
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.services.quotas import quota_tree
from tests.integration.tenants import Tenants, make_tenants


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def test_every_organisation_gets_its_own_cohort(center: Center, t: Tenants) -> None:
    cohorts = {c.name: c for c in quota_views.list_cohorts(center, t.root)}
    assert set(cohorts) == {"Acme", "Beta", "Center"}
    assert cohorts["Acme"].kind == "organisation" and cohorts["Acme"].organisation == "Acme"
    assert cohorts["Acme"].projects == ["acme-a"] and cohorts["Acme"].parent is None
    # Projects and cohorts share one tree, so their names may not collide.
    with pytest.raises(Conflict) as e:
        tenancy.create_project(center, "Acme", "Acme", [])
    assert e.value.field == "name"


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"resource": "z100", "nominal": 1}, "resource", "h100, h200, a100"),
        ({"resource": "cpu", "nominal": 1}, "resource", "cpus"),
        ({"resource": "a100", "nominal": -1}, "nominal", ">= 0"),
        ({"resource": "a100", "nominal": float("nan")}, "nominal", ">= 0"),
        ({"resource": "a100", "nominal": 1, "borrowing_limit": -2}, "borrowing_limit", ">= 0"),
        ({"resource": "a100", "nominal": 1, "lending_limit": -1}, "lending_limit", ">= 0"),
        ({"resource": "a100", "nominal": 1, "lending_limit": 2}, "lending_limit", "exceed"),
        ({"resource": "a100", "nominal": 1, "cohort": "Acme"}, "project", "exactly one"),
    ],
)
def test_set_quota_names_the_field_at_fault(
    center: Center, t: Tenants, kw: dict, field: str, words: str
) -> None:
    with pytest.raises(Invalid) as e:
        quota_admin.set_quota(center, t.root, project="acme-a", **kw)
    assert e.value.field == field and words in e.value.message
    assert quota_views.list_quotas(center, t.root) == []  # nothing half-written


def test_unknown_owners_and_bad_cohorts_are_refused(center: Center, t: Tenants) -> None:
    with pytest.raises(NotFound) as nf:
        quota_admin.set_quota(center, t.root, project="nope", resource="a100", nominal=1)
    assert nf.value.field == "project"
    with pytest.raises(NotFound) as nf:
        quota_admin.clear_quota(center, t.root, cohort="Acme", resource="a100")
    assert nf.value.field == "resource"
    for kw, field in [
        ({"name": "has space"}, "name"),
        ({"name": "p", "kind": "organisation"}, "kind"),
        ({"name": "p", "parent": "missing"}, "parent"),
        ({"name": "p", "parent": "Acme"}, "parent"),  # organisations hold projects only
    ]:
        with pytest.raises(Invalid) as e:
            quota_admin.create_cohort(center, t.root, **kw)  # type: ignore[arg-type]
        assert e.value.field == field, kw
    for name in ("Acme", "acme-a"):
        with pytest.raises(Conflict):
            quota_admin.create_cohort(center, t.root, name)
    with pytest.raises(Invalid) as e:
        quota_admin.set_shares(center, t.root, "acme-a", 0)
    assert e.value.field == "shares"


def test_only_center_admins_change_the_tree(center: Center, t: Tenants) -> None:
    quota_admin.create_cohort(center, t.root, "prog")
    for who in (t.alice, t.bob, t.vic, t.carol):
        for call in (
            partial(quota_admin.create_cohort, center, who, "mine"),
            partial(quota_admin.set_parent, center, who, "Acme", "prog"),
            partial(
                quota_admin.set_quota, center, who, project="acme-a", resource="a100", nominal=4
            ),
            partial(quota_admin.clear_quota, center, who, project="acme-a", resource="a100"),
            partial(quota_admin.set_shares, center, who, "acme-a", 5),
        ):
            with pytest.raises(Forbidden):
                call()
    assert quota_views.list_quotas(center, t.root) == []
    assert {c.name: c.parent for c in quota_views.list_cohorts(center, t.root)}["Acme"] is None


def test_a_cycle_is_refused_and_the_tree_stays(center: Center, t: Tenants) -> None:
    quota_admin.create_cohort(center, t.root, "top")
    quota_admin.create_cohort(center, t.root, "mid", parent="top")
    quota_admin.create_cohort(center, t.root, "low", parent="mid")
    for parent in ("low", "mid", "top"):
        with pytest.raises(Invalid) as e:
            quota_admin.set_parent(center, t.root, "top", parent)
        assert e.value.field == "parent" and (
            "cycle" in e.value.message or "own" in e.value.message
        )
    moved = quota_admin.set_parent(center, t.root, "Acme", "low")
    assert moved.parent == "low"
    parents = {c.name: c.parent for c in quota_views.list_cohorts(center, t.root)}
    assert parents == {
        "top": None,
        "mid": "top",
        "low": "mid",
        "Acme": "low",
        "Beta": None,
        "Center": None,
    }
    assert quota_admin.set_parent(center, t.root, "low", None).parent is None


def _tree_with_quotas(center: Center, t: Tenants) -> None:
    quota_admin.create_cohort(center, t.root, "voucher")
    quota_admin.set_parent(center, t.root, "Acme", "voucher")
    quota_admin.set_parent(center, t.root, "Beta", "voucher")
    quota_admin.set_quota(center, t.root, cohort="voucher", resource="a100", nominal=1)
    quota_admin.set_quota(
        center, t.root, cohort="Acme", resource="a100", nominal=2, lending_limit=1
    )
    quota_admin.set_quota(
        center, t.root, project="acme-a", resource="a100", nominal=1, borrowing_limit=2
    )
    quota_admin.set_quota(center, t.root, project="beta-b", resource="a100", nominal=3)
    quota_admin.set_quota(center, t.root, project="beta-b", resource="memory_mib", nominal=8192)
    quota_admin.set_shares(center, t.root, "beta-b", 3)


def test_quota_tree_is_what_was_set(center: Center, t: Tenants) -> None:
    _tree_with_quotas(center, t)
    with center.db.read() as s:
        tree = quota_tree(s)
    assert {c.name: (c.parent, dict(c.limits)) for c in tree.cohorts} == {
        "voucher": (None, {"a100": QuotaLimit(1.0)}),
        "Acme": ("voucher", {"a100": QuotaLimit(2.0, None, 1.0)}),
        "Beta": ("voucher", {}),
        "Center": (None, {}),
    }
    names = [c.name for c in tree.cohorts]
    assert names.index("voucher") < min(names.index("Acme"), names.index("Beta"))
    projects = {p.name: p for p in tree.projects}
    assert projects["acme-a"] == QuotaNode("acme-a", "Acme", {"a100": QuotaLimit(1.0, 2.0)}, 1.0)
    assert projects["beta-b"] == QuotaNode(
        "beta-b", "Beta", {"a100": QuotaLimit(3.0), "memory_mib": QuotaLimit(8192.0)}, 3.0
    )
    quota_admin.clear_quota(center, t.root, project="beta-b", resource="memory_mib")
    with center.db.read() as s:
        assert set(next(p for p in quota_tree(s).projects if p.name == "beta-b").limits) == {"a100"}


@contextmanager
def _count_queries(center: Center) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(center.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(center.db.engine, "before_cursor_execute", count)


def test_quota_tree_takes_the_same_few_queries_at_any_size(center: Center, t: Tenants) -> None:
    _tree_with_quotas(center, t)
    with center.db.read() as s, _count_queries(center) as small:
        quota_tree(s)
    for i in range(8):
        tenancy.create_organisation(center, f"Org{i}", "sme")
        tenancy.create_project(center, f"org{i}-p", f"Org{i}", [])
        quota_admin.set_quota(center, t.root, project=f"org{i}-p", resource="h100", nominal=i)
    with center.db.read() as s, _count_queries(center) as big:
        tree = quota_tree(s)
    assert len(tree.projects) == 10
    selects = [q for q in big if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) == len([q for q in small if q.lstrip().upper().startswith("SELECT")]) <= 3


def test_list_quotas_keeps_tenants_apart(center: Center, t: Tenants) -> None:
    _tree_with_quotas(center, t)
    seen = {
        who: {(q.owner_kind, q.owner) for q in quota_views.list_quotas(center, p)}
        for who, p in [("alice", t.alice), ("bob", t.bob), ("carol", t.carol), ("root", t.root)]
    }
    assert seen["root"] == {
        ("cohort", "voucher"),
        ("cohort", "Acme"),
        ("project", "acme-a"),
        ("project", "beta-b"),
    }
    # The org admin sees its projects and its cohort chain; never Beta's quotas.
    assert seen["alice"] == {("cohort", "voucher"), ("cohort", "Acme"), ("project", "acme-a")}
    assert seen["bob"] == {("project", "acme-a")}
    assert seen["carol"] == {("project", "beta-b")}
    alice = {(q.owner, q.resource): q for q in quota_views.list_quotas(center, t.alice)}
    # The program's use would reveal Beta's: hidden from Acme's admin.
    assert alice[("voucher", "a100")].used is None and alice[("Acme", "a100")].used == 0
    cohorts = {c.name: c for c in quota_views.list_cohorts(center, t.alice)}
    assert set(cohorts) == {"voucher", "Acme"} and cohorts["voucher"].projects == []
    carol = {c.name: c.projects for c in quota_views.list_cohorts(center, t.carol)}
    assert carol == {"voucher": [], "Beta": ["beta-b"]}


def _place(center: Center, t: Tenants, project: str, devices: tuple[int, ...], cpus: int) -> str:
    spec = JobSpec.model_validate(
        {
            "project": project,
            "command": ["true"],
            "accelerators": len(devices),
            "accelerator_type": "a100" if devices else None,
            "cpus": cpus,
            "memory_mib": 1024 * cpus,
        }
    )
    job = jobs.submit(center, t.root, spec)
    node = NodePlacement("node-1", cpus, 1024 * cpus, "a100" if devices else "cpu", devices)
    assert execution.admit(center, Decision(job.id, Placement("local", (node,)))) is not None
    return job.id


def test_used_and_borrowed_count_placed_jobs(center: Center, t: Tenants) -> None:
    _tree_with_quotas(center, t)
    _place(center, t, "acme-a", (0, 1), cpus=2)
    _place(center, t, "acme-a", (), cpus=1)  # cpu only
    _place(center, t, "acme-a", (2,), cpus=1)
    jobs.submit(  # queued: holds nothing
        center, t.root, JobSpec.model_validate({"project": "beta-b", "command": ["true"]})
    )
    q = {(v.owner, v.resource): v for v in quota_views.list_quotas(center, t.root)}
    acme = q[("acme-a", "a100")]
    assert (acme.nominal, acme.used, acme.borrowed) == (1, 3, 2)
    # cpus and memory have no quota anywhere: unmanaged, so nothing is borrowed.
    assert (q[("acme-a", "cpus")].used, q[("acme-a", "cpus")].borrowed) == (4, 0)
    assert q[("acme-a", "cpus")].has_quota is False
    assert q[("acme-a", "memory_mib")].used == 4096
    # Acme's subtree: 2 of its own + 1 of acme-a = 3 nominal, 3 used.
    assert (q[("Acme", "a100")].used, q[("Acme", "a100")].borrowed) == (3, 0)
    # voucher: 1 + 3 + 3 (beta-b) nominal; 3 used.
    assert (q[("voucher", "a100")].used, q[("voucher", "a100")].borrowed) == (3, 0)
    assert (q[("beta-b", "a100")].used, q[("beta-b", "a100")].borrowed) == (0, 0)
    assert ("beta-b", "memory_mib") in q and q[("beta-b", "memory_mib")].used == 0
    # The member sees the same numbers for its own project.
    mine = {(v.owner, v.resource): v for v in quota_views.list_quotas(center, t.bob)}
    assert mine[("acme-a", "a100")] == acme


def test_demo_seeds_a_two_level_tree_once(center: Center) -> None:
    from aidc.services import demo

    users = {u.username: u for u in demo.seed(center)}
    root = auth.authenticate(center, users["admin"].token)
    with center.db.read() as s:
        tree = quota_tree(s)
    parents = {c.name: c.parent for c in tree.cohorts}
    assert parents["Hanbit Vision"] == parents["Mirae Mobility"] == "ai-voucher"
    assert parents["ai-voucher"] is None and len(parents) == len(demo.DEMO) + 1
    projects = {p.name: p for p in tree.projects}
    assert projects["hanbit-vision"].limits == {"a100": QuotaLimit(2.0)}
    assert projects["hanbit-vision"].parent == "Hanbit Vision"
    assert projects["mirae-adas"].shares == 2 and projects["cnu-medical-imaging"].shares == 1
    # Seeding again (a restarted demo server) keeps what an admin changed since.
    quota_admin.set_quota(center, root, project="hanbit-vision", resource="a100", nominal=1)
    demo.seed(center)
    with center.db.read() as s:
        again = {p.name: p for p in quota_tree(s).projects}
    assert again["hanbit-vision"].limits == {"a100": QuotaLimit(1.0)}
