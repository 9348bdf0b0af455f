"""Programs: creation, validation naming the field, and budgets as grants use them."""

from __future__ import annotations

import pytest

from aidc.schemas_allocations import ProgramView
from aidc.services import allocation_review, programs
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.integration.alloc_world import DAY, T0, World, make_world


@pytest.fixture
def w(center: Center) -> World:
    return make_world(center)


def create(w: World, **kw: object) -> ProgramView:
    name = str(kw.pop("name", "p2"))
    args: dict = {
        "starts_at": T0,
        "ends_at": T0 + 100 * DAY,
        "budget_hours": {"a100": 100.0},
    } | kw
    return programs.create(w.c, w.t.root, name, **args)


def test_program_view_defaults_and_budget(w: World) -> None:
    p = programs.show(w.c, w.t.bob, w.program)
    assert p.kind == "allocation" and p.eligible_kinds == ["sme", "startup"]
    assert p.budget_hours == {"a100": 5000.0, "pf": 100.0}
    assert p.remaining_hours == p.budget_hours and p.granted_hours == {"a100": 0.0, "pf": 0.0}
    assert (p.required_approvals, p.on_exhausted, p.max_hours) == (1, "hold", {"a100": 2000.0})
    a = w.request(hours={"a100": 700.0, "pf": 3.0})
    allocation_review.approve(w.c, w.rev1, a.id)
    p = programs.show(w.c, w.t.carol, w.program)
    assert p.remaining_hours == {"a100": 4300.0, "pf": 97.0}
    e = create(w, name="edu", kind="education", rules={"on_exhausted": "notify"})
    assert e.kind == "education" and e.on_exhausted == "notify"
    assert [x.name for x in programs.list_programs(w.c, w.t.carol)] == [w.program, "edu"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": "party"}, "kind"),
        ({"ends_at": T0}, "ends_at"),
        ({"starts_at": float("nan")}, "starts_at"),
        ({"budget_hours": {}}, "budget_hours"),
        ({"budget_hours": {"z100": 5}}, "budget_hours"),
        ({"budget_hours": {"a100": -5}}, "budget_hours"),
        ({"eligible_kinds": ["castle"]}, "eligible_kinds"),
        ({"storage_budget_gb": -1.0}, "storage_budget_gb"),
        ({"rules": {"required_approvals": 0}}, "rules.required_approvals"),
        ({"rules": {"required_approvals": "two"}}, "rules.required_approvals"),
        ({"rules": {"max_hours": {"h100": 5}}}, "rules.max_hours"),
        ({"rules": {"on_exhausted": "panic"}}, "rules.on_exhausted"),
        ({"rules": {"quorum": 2}}, "rules.quorum"),
    ],
)
def test_validation_names_the_field(w: World, kw: dict, field: str) -> None:
    with pytest.raises(Invalid) as e:
        create(w, **kw)
    assert e.value.field == field
    with pytest.raises(NotFound):
        programs.show(w.c, w.t.root, "p2")


def test_only_center_admins_create_and_names_are_unique(w: World) -> None:
    for p in (w.t.alice, w.rev1):
        with pytest.raises(Forbidden):
            programs.create(w.c, p, "x", starts_at=T0, ends_at=T0 + DAY, budget_hours={"pf": 1})
    with pytest.raises(Conflict):
        create(w, name=w.program)
