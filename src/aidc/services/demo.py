"""The demo center: one organisation of each kind, projects, users and fresh tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from aidc.core.tenancy import OrgKind, Role
from aidc.services import auth, tenancy
from aidc.services.center import Center
from aidc.store.models import ApiToken, Organisation, User

# (organisation, kind, project, [(user, role)])
DEMO: tuple[tuple[str, OrgKind, str | None, list[tuple[str, Role]]], ...] = (
    ("National AI Data Center", OrgKind.PUBLIC, None, [("admin", Role.CENTER_ADMIN)]),
    (
        "Hanbit Vision",
        OrgKind.STARTUP,
        "hanbit-vision",
        [("minji", Role.ORG_ADMIN), ("jisoo", Role.MEMBER)],
    ),
    ("Mirae Mobility", OrgKind.SME, "mirae-adas", [("seojun", Role.ORG_ADMIN)]),
    ("Daehan Motors", OrgKind.ENTERPRISE, "daehan-autodrive", [("hyunwoo", Role.ORG_ADMIN)]),
    (
        "Chonnam National University",
        OrgKind.UNIVERSITY,
        "cnu-medical-imaging",
        [("prof-kim", Role.ORG_ADMIN), ("student-lee", Role.MEMBER)],
    ),
    (
        "Korea Institute of Energy Research",
        OrgKind.RESEARCH_INSTITUTE,
        "kier-grid-forecast",
        [("dr-park", Role.ORG_ADMIN)],
    ),
    (
        "Gwangju Metropolitan City",
        OrgKind.PUBLIC,
        "gwangju-culture-archive",
        [("city-analyst", Role.MEMBER)],
    ),
)
DEMO_TOKEN_NAME = "demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    organisation: str
    role: str
    project: str | None
    token: str


def seed(center: Center) -> list[DemoUser]:
    """Create what is missing of the demo center, and give every demo user a new token
    (older demo tokens are revoked, since only hashes are kept and can't be shown again)."""
    with center.db.transaction() as s:
        have_orgs = set(s.scalars(select(Organisation.name)))
    for org, kind, project, users in DEMO:
        if org in have_orgs:
            continue
        tenancy.create_organisation(center, org, kind)
        for username, role in users:
            tenancy.create_user(center, username, org, role)
        if project:
            tenancy.create_project(center, project, org, [u for u, _ in users])
    now = center.clock()
    with center.db.transaction() as s:
        names = [u for _, _, _, users in DEMO for u, _ in users]
        ids = s.scalars(select(User.id).where(User.username.in_(names))).all()
        for tok in s.scalars(
            select(ApiToken).where(
                ApiToken.user_id.in_(ids),
                ApiToken.name == DEMO_TOKEN_NAME,
                ApiToken.revoked_at.is_(None),
            )
        ):
            tok.revoked_at = now
    return [
        DemoUser(username, org, role, project, auth.issue_token(center, username, DEMO_TOKEN_NAME))
        for org, _, project, users in DEMO
        for username, role in users
    ]
