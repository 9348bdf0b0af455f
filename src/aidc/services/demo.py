"""The demo center: one organisation of each kind, projects, users, quotas and fresh tokens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from aidc.core.tenancy import OrgKind, Role
from aidc.scheduler.snapshot import QuotaLimit
from aidc.services import auth, demo_allocations, passwords, tenancy
from aidc.services.center import Center
from aidc.services.demo_course import seed_course
from aidc.services.demo_datasets import seed_datasets
from aidc.services.quota_admin import add_cohort, move_cohort, put_quota
from aidc.services.quotas import OwnerKind, ensure_org_cohort
from aidc.store.models import ApiToken, Cohort, Organisation, Project, User

# (organisation, kind, project, [(user, role)])
DEMO: tuple[tuple[str, OrgKind, str | None, list[tuple[str, Role]]], ...] = (
    (
        "National AI Data Center",
        OrgKind.PUBLIC,
        None,
        [("admin", Role.CENTER_ADMIN), ("reviewer-choi", Role.REVIEWER)],
    ),
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
# The portal's login for every demo user who has not set a password of their own (printed
# at start, like the tokens; a demo center is not for real data).
DEMO_PASSWORD = "aidc-demo-password"
# A funding program grouping the startup and the SME: a two-level cohort tree.
DEMO_PROGRAM = "ai-voucher"
DEMO_PROGRAM_KINDS = (OrgKind.STARTUP, OrgKind.SME)
# The demo's 4 virtual a100s: two guaranteed to each voucher project. The rest of the center
# has no a100 quota and borrows what they leave unused; cpus and memory stay unmanaged.
DEMO_QUOTAS: tuple[tuple[str, str, QuotaLimit], ...] = (
    ("hanbit-vision", "a100", QuotaLimit(nominal=2)),
    ("mirae-adas", "a100", QuotaLimit(nominal=2)),
)
# Fair-share weights: the voucher projects' allocations count double.
DEMO_SHARES = {"hanbit-vision": 2.0, "mirae-adas": 2.0}


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
    _seed_quotas(center)
    demo_allocations.seed(center)
    # The course's students and the data steward (their tokens are made with them).
    data_users = seed_datasets(center)  # first: the course shares two of its datasets
    extra = [DemoUser(*u) for u in (*seed_course(center), *data_users)]
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
        # One hash for all: the password is published anyway, and hashing is slow on purpose.
        demo_hash = passwords.hash_password(DEMO_PASSWORD)
        everyone = [*names, *(u.username for u in extra)]
        for user in s.scalars(select(User).where(User.username.in_(everyone))):
            user.password_hash = user.password_hash or demo_hash
    return [
        DemoUser(username, org, role, project, auth.issue_token(center, username, DEMO_TOKEN_NAME))
        for org, _, project, users in DEMO
        for username, role in users
    ] + extra


def _seed_quotas(center: Center) -> None:
    """Cohorts for every organisation (also those of a database older than cohorts), and the
    program with its quotas and shares the first time; later an admin's changes stay."""
    now = center.clock()
    with center.db.transaction() as s:
        for org in s.scalars(select(Organisation).order_by(Organisation.id)):
            ensure_org_cohort(s, org, at=now)
        if s.scalar(select(Cohort.id).where(Cohort.name == DEMO_PROGRAM)) is not None:
            return  # seeded before
        add_cohort(s, DEMO_PROGRAM, kind="program", parent=None, at=now)
        for org_name, kind, _, _ in DEMO:
            if kind in DEMO_PROGRAM_KINDS:
                move_cohort(s, org_name, DEMO_PROGRAM)
        projects = {name: pid for name, pid in s.execute(select(Project.name, Project.id))}
        for project, resource, limit in DEMO_QUOTAS:
            put_quota(s, OwnerKind.PROJECT, projects[project], resource, limit, at=now)
        for project, shares in DEMO_SHARES.items():
            p = s.get(Project, projects[project])
            assert p is not None
            p.shares = shares
