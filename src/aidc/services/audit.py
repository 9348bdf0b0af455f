"""The security audit log: what was done, by whom, to what; read by center admins.

``record`` writes one line in the caller's transaction. Recorded: logins (portal passwords and
``aidc login`` tokens, and every failed password or bearer token), tokens issued and revoked,
invitations accepted (sign-ins), role changes, allocation decisions, cancels of other
people's jobs, and preemptions. Secrets never go in: a token is named by its id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal
from aidc.schemas_audit import AuditEventView
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid
from aidc.store.models_audit import AuditEvent

LIMIT_MAX = 10_000


def record(
    s: Session,
    *,
    at: float,
    actor: str,
    action: str,
    target_kind: str,
    target: str | int,
    org_id: int | None = None,
    **details: Any,
) -> None:
    s.add(
        AuditEvent(
            at=at,
            actor=actor,
            action=action,
            target_kind=target_kind,
            target=str(target),
            org_id=org_id,
            details=details,
        )
    )


def list_events(
    center: Center,
    p: Principal,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: float | None = None,
    limit: int = 1000,
) -> list[AuditEventView]:
    """The latest ``limit`` lines (oldest first), optionally of one action or actor."""
    if not p.is_center_admin:
        raise Forbidden("the security log is for center admins")
    if not 1 <= limit <= LIMIT_MAX:
        raise Invalid(f"limit must be between 1 and {LIMIT_MAX}", field="limit")
    q = select(AuditEvent)
    if action:
        q = q.where(AuditEvent.action == action)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    with center.db.read() as s:
        rows = list(s.scalars(q.order_by(AuditEvent.id.desc()).limit(limit)))
    return [
        AuditEventView(
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            target_kind=r.target_kind,
            target=r.target,
            org_id=r.org_id,
            details=r.details,
        )
        for r in reversed(rows)
    ]
