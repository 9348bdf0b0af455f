"""The authorisation matrix's world, built through the real services.

Two tenants, Acme ("A", a startup) and Beta ("B", a university), each with a project, a
queued job, an allocation request, a pending invitation and a course; the center with a
reviewer and an admin, an allocation program, an education program and a program cohort.
The callers are the matrix's roles; ``objects[target]`` names what a path, query or body
refers to for target A or B (``-`` for routes without a tenant's object).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from aidc.core.jobspec import JobSpec
from aidc.schemas_courses import CourseCreate
from aidc.services import (
    allocations,
    auth,
    courses,
    invitations,
    jobs,
    programs,
    quota_admin,
    tenancy,
)
from aidc.services.center import Center
from aidc.settings import Settings
from aidc.store.models import ApiToken
from tests.security import world_data, world_validation

DAY = 86400.0
# The matrix's callers: role -> username ("anonymous" sends no token).
ROLES = {
    "anonymous": None,
    "a_member": "bob",
    "a_admin": "alice",
    "b_member": "carol",
    "reviewer": "rev1",
    "steward": "stew",
    "center_admin": "root",
}
TARGETS = ("A", "B")
# A well-formed id no object has: what "not found" looks like, to compare denials with.
MISSING = {
    "job_id": "00000000deadbeef",
    "allocation_id": "987654",
    "invitation_id": "987654",
    "sim_id": "00000000deadbeef",
    "token_id": "987654",
    "upload_id": "00000000deadbeef",
    "grant_id": "987654",
    "session_id": "00000000deadbeef",
    "validation": "00000000deadbeef",
    "share": "0000000000000000000000000000dead",
}


@dataclass
class World:
    tokens: dict[str, str]  # role -> bearer token
    objects: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> kind -> value

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}


def build(c: Center, settings: Settings) -> World:
    now = c.clock()
    tenancy.create_organisation(c, "Acme", "startup")
    tenancy.create_organisation(c, "Beta", "university")
    tenancy.create_organisation(c, "Center", "public")
    for user, org, role in [
        ("alice", "Acme", "org-admin"),
        ("bob", "Acme", "member"),
        ("ivy", "Acme", "member"),
        ("beth", "Beta", "org-admin"),
        ("carol", "Beta", "member"),
        ("dan", "Beta", "member"),
        ("root", "Center", "center-admin"),
        ("rev1", "Center", "reviewer"),
        ("stew", "Center", "data-steward"),
    ]:
        tenancy.create_user(c, user, org, role)
    tenancy.create_project(c, "acme-a", "Acme", ["alice", "bob", "ivy"])
    tenancy.create_project(c, "beta-b", "Beta", ["beth", "carol", "dan"])
    who = {u: auth.authenticate(c, auth.issue_token(c, u)) for u in ("alice", "beth", "root")}
    tokens = {role: auth.issue_token(c, u) for role, u in ROLES.items() if u is not None}
    bob, carol = (auth.authenticate(c, tokens[r]) for r in ("a_member", "b_member"))
    root = who["root"]
    programs.create(
        c,
        root,
        "open-2027",
        starts_at=now - DAY,
        ends_at=now + 365 * DAY,
        budget_hours={"a100": 10_000.0},
    )
    programs.create(
        c,
        root,
        "edu-2027",
        kind="education",
        starts_at=now - DAY,
        ends_at=now + 365 * DAY,
        budget_hours={"a100": 1000.0},
    )
    quota_admin.create_cohort(c, root, "national", kind="program")
    world_data.center_datasets(c, root)
    world = World(tokens=tokens)
    for target, org, project, admin, member, instructor in [
        ("A", "Acme", "acme-a", who["alice"], bob, "ivy"),
        ("B", "Beta", "beta-b", who["beth"], carol, "dan"),
    ]:
        quota_admin.set_quota(c, root, project=project, resource="a100", nominal=2)
        job = jobs.submit(c, member, JobSpec(project=project, command=["sleep", "1"]))
        alloc = allocations.request(
            c,
            admin,
            project=project,
            program="open-2027",
            justification="train a detector",
            hours={"a100": 100.0},
            starts_at=now + DAY,
            ends_at=now + 30 * DAY,
        )
        invite = invitations.invite(c, admin, org, f"new-{target.lower()}", "member", [project])
        course = f"course-{target.lower()}"
        courses.create_course(
            c,
            root,
            CourseCreate(
                name=course,
                organisation=org,
                program="edu-2027",
                instructor=instructor,
                starts_at=now,
                ends_at=now + 60 * DAY,
                student_hours={"a100": 10.0},
            ),
        )
        assert invite.code is not None
        with c.db.read() as s:
            token_id = s.scalar(
                select(ApiToken.id).where(
                    ApiToken.token_hash == auth.hash_token(tokens[f"{target.lower()}_member"])
                )
            )
        world.objects[target] = {
            "org": org,
            "project": project,
            "job_id": job.id,
            "allocation_id": str(alloc.id),
            "invitation_id": str(invite.id),
            "invitation_code": invite.code,
            "invitation_username": invite.username,
            "course": course,
            "member": instructor,
            "token_id": str(token_id),  # the tenant's member's token
        } | world_data.tenant_objects(c, settings, target, org, project, admin, member)
        dataset = world.objects[target]["dataset"]
        world.objects[target] |= world_validation.tenant_objects(c, member, project, dataset)
    world.objects["-"] = {
        "program": "open-2027",
        "cohort": "national",
        "sim_id": MISSING["sim_id"],
        "airlock_job": MISSING["job_id"],  # no job of the world has held outputs
    }
    return world


def copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included): the backup API."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
