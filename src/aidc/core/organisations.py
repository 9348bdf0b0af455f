"""Registration details of organisations, and the roles org admins may hand out."""

from __future__ import annotations

import re

from aidc.core.tenancy import OrgKind, Role

# Korean business registration numbers: 123-45-67890.
REGISTRATION_RE = re.compile(r"^\d{3}-\d{2}-\d{5}$")
# Kinds that are businesses and so carry a business registration number.
BUSINESS_KINDS = frozenset({OrgKind.STARTUP, OrgKind.SME, OrgKind.ENTERPRISE})
# What an org admin may make someone in their organisation (never center-admin or reviewer).
ORG_ROLES = (Role.MEMBER, Role.VIEWER, Role.ORG_ADMIN)


def registration_problem(kind: OrgKind, number: str, *, required: bool) -> str | None:
    """Why ``number`` does not fit an organisation of ``kind``, or None when it does.
    ``required``: a business must give one (new organisations through the API)."""
    if not number:
        if required and kind in BUSINESS_KINDS:
            return f"a {kind} needs its business registration number (NNN-NN-NNNNN)"
        return None
    if not REGISTRATION_RE.match(number):
        return f"{number!r} is not a business registration number; the form is NNN-NN-NNNNN"
    return None
