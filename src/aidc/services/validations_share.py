"""Shares of a validation's report: its owner names an organisation (a chip vendor, a
funder) or a user who may then read it; the owner revokes a share. Everyone else still
gets "not found". Each share and revocation is a row of the security audit log."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.tenancy import Principal
from aidc.schemas_validation import ShareCreate, ShareView
from aidc.services import audit
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.services.validations_read import may_manage, readable
from aidc.store.models import Organisation, User
from aidc.store.models_validation import Validation, ValidationShare


def share(center: Center, p: Principal, validation_id: str, body: ShareCreate) -> ShareView:
    if (body.organisation is None) == (body.user is None):
        raise Invalid("name either an organisation or a user to share with", field="organisation")
    now = center.clock()
    with center.db.transaction() as s:
        v = _managed(s, p, validation_id)
        org_id = user_id = None
        if body.organisation is not None:
            org_id = s.scalar(select(Organisation.id).where(Organisation.name == body.organisation))
            if org_id is None:
                raise Invalid(f"no organisation called {body.organisation!r}", "organisation")
        else:
            user_id = s.scalar(select(User.id).where(User.username == body.user))
            if user_id is None:
                raise Invalid(f"no user called {body.user!r}", field="user")
        row = ValidationShare(
            id=secrets.token_hex(16),
            validation_id=v.id,
            org_id=org_id,
            user_id=user_id,
            created_by=p.username,
            created_at=now,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            at=now,
            actor=p.username,
            action="validation.shared",
            target_kind="validation",
            target=v.id,
            org_id=v.org_id,
            share=row.id,
            organisation=body.organisation,
            user=body.user,
        )
        return _view(s, row)


def list_shares(center: Center, p: Principal, validation_id: str) -> list[ShareView]:
    with center.db.read() as s:
        v = _managed(s, p, validation_id)
        q = select(ValidationShare).where(ValidationShare.validation_id == v.id)
        return [_view(s, r) for r in s.scalars(q.order_by(ValidationShare.created_at))]


def revoke(center: Center, p: Principal, validation_id: str, share_id: str) -> ShareView:
    now = center.clock()
    with center.db.transaction() as s:
        v = _managed(s, p, validation_id)
        row = s.get(ValidationShare, share_id)
        if row is None or row.validation_id != v.id:
            raise NotFound(f"no share {share_id!r} of validation {v.id}", field="share_id")
        if row.revoked_at is not None:
            raise Conflict(f"share {share_id} is already revoked", field="share_id")
        row.revoked_at = now
        audit.record(
            s,
            at=now,
            actor=p.username,
            action="validation.share_revoked",
            target_kind="validation",
            target=v.id,
            org_id=v.org_id,
            share=row.id,
        )
        return _view(s, row)


def _managed(s: Session, p: Principal, validation_id: str) -> Validation:
    v = readable(s, p, validation_id)  # a reader that may not manage: 403; others 404
    if not may_manage(p, v):
        raise Forbidden("only the validation's creator or its organisation's admins share it")
    return v


def _view(s: Session, r: ValidationShare) -> ShareView:
    org = s.get(Organisation, r.org_id) if r.org_id is not None else None
    user = s.get(User, r.user_id) if r.user_id is not None else None
    return ShareView(
        id=r.id,
        validation_id=r.validation_id,
        organisation=org.name if org else None,
        user=user.username if user else None,
        created_by=r.created_by,
        created_at=r.created_at,
        revoked_at=r.revoked_at,
        link=f"/portal/validations/{r.validation_id}",
    )
