"""The policy use cases against a real database: versions, roles, validation, the cache."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from aidc.core.policy import Ordering, Policy
from aidc.services import policy
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid
from aidc.store.models import PolicyRow
from tests.integration.tenants import Tenants, make_tenants

TEXT = 'preset = "sjf"\n# night shift\n[weights]\nage = 50\n[backfill]\nreservations = 3\n'


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def current(center: Center) -> tuple[int, Policy]:
    with center.db.read() as s:
        return policy.current(s)


def stored(center: Center) -> int:
    with center.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(PolicyRow)) or 0)


def test_the_default_until_one_is_set(center: Center, t: Tenants) -> None:
    view = policy.show(center, t.bob)
    assert (view.version, view.preset, view.set_at, view.set_by) == (0, "fairshare", None, None)
    assert view.text == 'preset = "fairshare"\n'
    assert view.effective == Policy().model_dump(mode="json")
    assert current(center) == (0, Policy())


def test_set_show_current_round_trip(center: Center, t: Tenants) -> None:
    center.clock = lambda: 1_000.0
    view = policy.set_policy(center, t.root, TEXT)
    assert view.version > 0 and view.preset == "sjf"
    assert (view.set_at, view.set_by, view.text) == (1_000.0, "root", TEXT)  # comments kept
    shown = policy.show(center, t.vic)  # a viewer may read it
    assert shown == view
    assert shown.effective["weights"]["age"] == 50
    assert shown.effective["weights"]["fairshare"] == Policy().weights.fairshare
    version, p = current(center)
    assert version == view.version
    assert (p.ordering, p.weights.age, p.backfill.reservations) == (Ordering.SJF, 50, 3)


def test_each_change_is_a_new_version(center: Center, t: Tenants) -> None:
    first = policy.set_policy(center, t.root, TEXT)
    second = policy.set_preset(center, t.root, "fifo")
    third = policy.set_policy(center, t.root, TEXT)
    assert first.version < second.version < third.version
    assert second.text == 'preset = "fifo"\n' and second.effective["ordering"] == "fifo"
    assert policy.show(center, t.bob).version == third.version
    assert stored(center) == 3  # the history stays


def test_only_center_admins_change_it(center: Center, t: Tenants) -> None:
    for who in (t.bob, t.alice, t.vic):  # member, org admin, viewer
        with pytest.raises(Forbidden, match="center admins"):
            policy.set_policy(center, who, TEXT)
        with pytest.raises(Forbidden):
            policy.set_preset(center, who, "fifo")
    assert stored(center) == 0


def test_an_invalid_policy_is_never_stored(center: Center, t: Tenants) -> None:
    before = policy.set_preset(center, t.root, "fifo")
    with pytest.raises(Invalid) as info:
        policy.set_policy(center, t.root, "[weights]\nage = -1\nsize = 'big'\n")
    assert info.value.field == "weights.age"
    assert [f for f, _ in info.value.fields] == ["weights.age", "weights.size"]
    assert "weights.age: must be >= 0" in info.value.message
    with pytest.raises(Invalid) as info:
        policy.set_policy(center, t.root, "[weights\n")
    assert info.value.field == "toml" and "line 1" in info.value.message
    with pytest.raises(Invalid) as info:
        policy.set_preset(center, t.root, "lottery")
    assert info.value.field == "preset"
    assert stored(center) == 1
    assert policy.show(center, t.root) == before


def test_the_cache_serves_unchanged_policies_and_sees_every_set(center: Center, t: Tenants) -> None:
    policy.set_preset(center, t.root, "sjf")
    version, first = current(center)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with center.db.read() as s:
        s.execute(select(1))  # the transaction's own BEGIN is not the policy's cost
        event.listen(center.db.engine, "before_cursor_execute", count)
        try:
            again = policy.current(s)
        finally:
            event.remove(center.db.engine, "before_cursor_execute", count)
    assert again == (version, first) and again[1] is first  # not parsed again
    assert len(statements) == 1 and "policies" in statements[0]  # one query per pass
    view = policy.set_policy(center, t.root, TEXT)
    assert current(center) == (view.version, policy.parse(TEXT))
    assert current(center)[1].weights.age == 50


def test_a_change_is_announced_on_the_bus(center: Center, t: Tenants) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    center.bus.subscribe(policy.CHANGED, lambda topic, payload: seen.append((topic, payload)))
    view = policy.set_preset(center, t.root, "fifo")
    assert seen == [("policy.changed", {"version": view.version, "preset": "fifo"})]
    with pytest.raises(Invalid):
        policy.set_policy(center, t.root, "ordering = 'random'\n")
    assert len(seen) == 1


def test_install_adds_a_version_only_when_the_text_differs(center: Center) -> None:
    first = policy.install(center, TEXT, by="aidc server --policy p.toml")
    assert first is not None and first.set_by == "aidc server --policy p.toml"
    assert policy.install(center, TEXT, by="aidc server --policy p.toml") is None  # a restart
    changed = policy.install(center, TEXT + "[preemption]\nenabled = false\n", by="x")
    assert changed is not None and changed.version > first.version
    with pytest.raises(Invalid):
        policy.install(center, "[weights]\nage = -1\n", by="x")
    assert stored(center) == 2
