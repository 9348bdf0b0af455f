"""The scheduling policy: the newest stored version is in effect, else the default preset.

Anyone signed in may read it (tenants should see why their jobs wait); only center admins
change it. A change is a new row, so the history stays, and takes effect on the controller's
next pass: ``current`` is read every pass and costs one indexed query while nothing changed.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.policy import PRESETS, Policy
from aidc.core.policy_text import PolicyError, loads, preset_text
from aidc.core.tenancy import Principal
from aidc.schemas import PolicyView
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid
from aidc.store.models import PolicyRow

log = logging.getLogger("aidc.policy")

DEFAULT = Policy()
DEFAULT_TEXT = preset_text(DEFAULT.preset)
CHANGED = "policy.changed"  # bus topic; payload {"version": int, "preset": str}

# The newest parsed policy of each database (one entry per database URL), so that a pass does
# not re-parse TOML. It is keyed by the row's created_at as well as its id: SQLite may hand
# out an id again (after a rolled-back insert, or a database restored from a backup), and a
# stale policy must never be served for it.
_cache: dict[str, tuple[int, float, Policy]] = {}
_cache_lock = threading.Lock()


def current(s: Session) -> tuple[int, Policy]:
    """(version, policy); version 0 is the built-in default."""
    newest = s.execute(
        select(PolicyRow.id, PolicyRow.created_at).order_by(PolicyRow.id.desc()).limit(1)
    ).first()
    if newest is None:
        return 0, DEFAULT
    version, created_at = newest
    db = s.get_bind().engine.url.render_as_string(hide_password=True)
    with _cache_lock:
        hit = _cache.get(db)
    if hit is not None and hit[:2] == (version, created_at):
        return version, hit[2]
    text = s.scalars(select(PolicyRow.text).where(PolicyRow.id == version)).one()
    try:
        policy = loads(text)
    except PolicyError as e:
        # Stored policies were valid when set; only a stricter aidc can make one fail.
        raise RuntimeError(
            f"stored policy version {version} is no longer valid ({e}); "
            "set a corrected one with `aidc policy set` or `aidc server --policy`"
        ) from None
    with _cache_lock:
        _cache[db] = (version, created_at, policy)
    return version, policy


def parse(text: str) -> Policy:
    """The policy ``text`` describes; Invalid naming every key at fault, and the fix."""
    try:
        return loads(text)
    except PolicyError as e:
        raise Invalid(str(e), field=e.fields[0][0], fields=e.fields) from None


def show(center: Center, p: Principal) -> PolicyView:
    """The policy in effect: as set, and fully expanded. Any signed-in user may read it."""
    with center.db.read() as s:
        version, policy = current(s)
        row = s.get(PolicyRow, version) if version else None
        return _view(version, policy, row)


def set_policy(center: Center, p: Principal, text: str) -> PolicyView:
    """Store ``text`` as the new policy (center admins only); it is checked first, so an
    invalid policy is never stored."""
    _require_admin(p)
    return _store(center, text, parse(text), p.username)


def set_preset(center: Center, p: Principal, name: str) -> PolicyView:
    """Store a preset, unchanged, as the new policy (center admins only)."""
    _require_admin(p)
    if name not in PRESETS:
        raise Invalid(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}", field="preset")
    text = preset_text(name)
    return _store(center, text, parse(text), p.username)


def install(center: Center, text: str, by: str) -> PolicyView | None:
    """Store ``text`` unless it is already the newest version (``aidc server --policy``: a
    restart with the same file adds no version). None when nothing was stored."""
    policy = parse(text)
    with center.db.read() as s:
        newest = s.scalars(select(PolicyRow.text).order_by(PolicyRow.id.desc()).limit(1)).first()
    if newest == text:
        return None
    return _store(center, text, policy, by)


# -- helpers ------------------------------------------------------------------------------


def _require_admin(p: Principal) -> None:
    if not p.is_center_admin:
        raise Forbidden(
            "only center admins change the scheduling policy; `aidc policy show` reads it"
        )


def _store(center: Center, text: str, policy: Policy, by: str) -> PolicyView:
    with center.db.transaction() as s:
        row = PolicyRow(text=text, created_at=center.clock(), created_by=by[:64])
        s.add(row)
        s.flush()
        view = _view(row.id, policy, row)
    log.info("policy version %d (preset %s) set by %s", view.version, view.preset, by)
    # After the commit: a controller woken by this must find the new row.
    center.bus.publish(CHANGED, {"version": view.version, "preset": view.preset})
    return view


def _view(version: int, policy: Policy, row: PolicyRow | None) -> PolicyView:
    return PolicyView(
        version=version,
        preset=policy.preset,
        text=row.text if row is not None else DEFAULT_TEXT,
        effective=policy.model_dump(mode="json"),
        set_at=row.created_at if row is not None else None,
        set_by=row.created_by if row is not None else None,
    )
