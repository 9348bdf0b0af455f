"""The demo's program and allocations: a reviewer, a startup program, an active grant for
hanbit-vision (its a100 quota of 2 now comes from it) and a pending request of mirae-adas.

Seeded once, through the same use cases people call, so the demo's history reads like a
real one; a restarted demo server leaves them (and what was done to them since) alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from aidc.core.tenancy import Principal, Role
from aidc.services import allocation_review, allocations, programs, tenancy
from aidc.services.center import Center
from aidc.store.models import Organisation, ProjectMember, User
from aidc.store.models_allocations import Program

REVIEWER = "reviewer-choi"
CENTER_ORG = "National AI Data Center"
PROGRAM = "2027 AI startup compute support"
DAY = 86400.0


def seed(center: Center) -> None:
    with center.db.read() as s:
        have_reviewer = s.scalar(select(User.id).where(User.username == REVIEWER)) is not None
        have_program = s.scalar(select(Program.id).where(Program.name == PROGRAM)) is not None
    if not have_reviewer:
        tenancy.create_user(center, REVIEWER, CENTER_ORG, Role.REVIEWER)
    if have_program:
        return
    now = center.clock()
    # The program runs to the end of 2027 (or a year from now, for a demo run later).
    end = max(dt.datetime(2028, 1, 1, tzinfo=dt.UTC).timestamp(), now + 365 * DAY)
    start = now - DAY
    admin, choi = _principal(center, "admin"), _principal(center, REVIEWER)
    programs.create(
        center,
        admin,
        PROGRAM,
        starts_at=start,
        ends_at=end,
        description="Accelerator hours for AI startups and SMEs.",
        eligible_kinds=["startup", "sme"],
        budget_hours={"a100": 80_000.0},
        storage_budget_gb=50_000.0,
        rules={"required_approvals": 1, "max_hours": {"a100": 2_000.0}, "on_exhausted": "hold"},
    )
    hanbit = allocations.request(
        center,
        _principal(center, "minji"),
        project="hanbit-vision",
        program=PROGRAM,
        justification="Training the road-scene detector on 4K dashcam video.",
        hours={"a100": 2_000.0},
        quota={"a100": 2},
        storage_gb=500.0,
        starts_at=start,
        ends_at=min(end, now + 180 * DAY),
    )
    allocation_review.approve(center, choi, hanbit.id, reason="a clear plan; granted in full")
    allocations.request(
        center,
        _principal(center, "seojun"),
        project="mirae-adas",
        program=PROGRAM,
        justification="Fine-tuning the lane-keeping model for winter roads.",
        hours={"a100": 1_500.0},
        quota={"a100": 2},
        storage_gb=200.0,
        starts_at=now,
        ends_at=min(end, now + 120 * DAY),
    )


def _principal(center: Center, username: str) -> Principal:
    """The demo user as the services see them, without issuing a token."""
    with center.db.read() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        org = s.get(Organisation, user.org_id)
        assert org is not None
        projects = s.scalars(
            select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)
        ).all()
        return Principal(
            user.id, user.username, org.id, org.name, Role(user.role), frozenset(projects)
        )
