"""A university with an education program and a course, for the course tests.

The education program is inserted directly: programs belong to another part of the code,
and a course only needs the row.
"""

from __future__ import annotations

from dataclasses import dataclass

from aidc.core.roster import format_roster
from aidc.core.tenancy import Principal
from aidc.schemas_courses import CourseCreate
from aidc.services import auth, courses, tenancy
from aidc.services.center import Center
from aidc.store.models_allocations import Program
from aidc.store.models_datasets import Dataset
from tests.integration.tenants import Tenants, make_tenants

DAY = 86400.0
T0 = 1_800_000_000.0  # early 2027
START = T0 + 10 * DAY
END = T0 + 100 * DAY


@dataclass
class Campus:
    t: Tenants
    prof: Principal  # member of Beta (a university), the instructor
    dean: Principal  # org-admin of Beta
    now: list[float]  # the center's clock: set now[0]


def add_program(
    c: Center,
    name: str = "edu-2027",
    *,
    kind: str = "education",
    budget: dict[str, float] | None = None,
    starts_at: float = T0,
    ends_at: float = T0 + 365 * DAY,
) -> None:
    with c.db.transaction() as s:
        s.add(
            Program(
                name=name,
                kind=kind,
                description="",
                starts_at=starts_at,
                ends_at=ends_at,
                eligible_kinds=[],
                budget_hours=budget if budget is not None else {"a100": 1000.0, "pf": 100.0},
                storage_budget_gb=0.0,
                rules={},
                cohort_id=None,
                created_at=T0,
                created_by="test",
            )
        )


def add_catalog_entries(c: Center) -> None:
    """Catalog rows a course may name (``mnist``) or may not (``ehr``, restricted); a
    course shares only what its students may read, so no bytes are needed."""
    with c.db.transaction() as s:
        for name, tier in (("mnist", "public"), ("ehr", "restricted")):
            s.add(Dataset(name=name, sector="other", tier=tier, created_by="test", created_at=T0))


def make_campus(c: Center, **program: object) -> Campus:
    now = [START + DAY]
    c.clock = lambda: now[0]
    t = make_tenants(c)
    tenancy.create_user(c, "prof", "Beta", "member")
    tenancy.create_user(c, "dean", "Beta", "org-admin")
    add_program(c, **program)  # type: ignore[arg-type]
    add_catalog_entries(c)
    who = {u: auth.authenticate(c, auth.issue_token(c, u)) for u in ("prof", "dean")}
    return Campus(t=t, now=now, **who)


def course_body(**over: object) -> CourseCreate:
    fields: dict[str, object] = {
        "name": "ml101",
        "title": "Machine learning",
        "organisation": "Beta",
        "program": "edu-2027",
        "instructor": "prof",
        "starts_at": START,
        "ends_at": END,
        "student_hours": {"a100": 20.0},
        "student_quota": {"a100": 1.0},
        "datasets": ["mnist"],
    }
    return CourseCreate.model_validate({**fields, **over})


def add_course(c: Center, by: Principal, **over: object) -> None:
    courses.create_course(c, by, course_body(**over))


def roster(*usernames: str) -> str:
    return format_roster([(u, f"{u}@uni.ac.kr", f"Student {u}") for u in usernames])
