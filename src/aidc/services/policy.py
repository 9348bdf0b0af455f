"""The scheduling policy in effect: the newest stored version, else the default preset."""

from __future__ import annotations

import tomllib

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.policy import Policy, from_mapping
from aidc.store.models import PolicyRow


def current(s: Session) -> tuple[int, Policy]:
    """(version, policy); version 0 is the built-in default."""
    row = s.scalars(select(PolicyRow).order_by(PolicyRow.id.desc()).limit(1)).one_or_none()
    if row is None:
        return 0, Policy()
    return row.id, from_mapping(tomllib.loads(row.text))
