"""Tenants, reviewers, a program and a settable clock, for the allocation tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aidc.core.tenancy import Principal
from aidc.schemas_allocations import AllocationView
from aidc.services import allocations, auth, programs, tenancy
from aidc.services.center import Center
from tests.integration.tenants import Tenants, make_tenants

DAY = 86400.0
T0 = 1_900_000_000.0  # the program starts here; the clock starts a day later


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    c: Center
    t: Tenants
    clock: Clock
    rev1: Principal  # reviewer of the center
    rev2: Principal  # another reviewer of the center
    acme_rev: Principal  # a reviewer who works for Acme (the applicant)
    beth: Principal  # org-admin of Beta (a university: not eligible)
    program: str

    def request(self, **kw: Any) -> AllocationView:
        ask: dict[str, Any] = {
            "project": "acme-a",
            "program": self.program,
            "justification": "train a detector",
            "hours": {"a100": 1000.0},
            "quota": {"a100": 2},
            "storage_gb": 100.0,
            "starts_at": T0,
            "ends_at": T0 + 90 * DAY,
        }
        return allocations.request(self.c, self.t.alice, **(ask | kw))


def principal(c: Center, username: str) -> Principal:
    return auth.authenticate(c, auth.issue_token(c, username))


def make_world(
    c: Center, *, budget: dict[str, float] | None = None, rules: dict[str, Any] | None = None
) -> World:
    clock = Clock(T0 + DAY)
    c.clock = clock
    t = make_tenants(c)
    tenancy.create_user(c, "rev1", "Center", "reviewer")
    tenancy.create_user(c, "rev2", "Center", "reviewer")
    tenancy.create_user(c, "acme-rev", "Acme", "reviewer")
    tenancy.create_user(c, "beth", "Beta", "org-admin")
    programs.create(
        c,
        t.root,
        "startups-2027",
        starts_at=T0,
        ends_at=T0 + 365 * DAY,
        budget_hours=budget or {"a100": 5000.0, "pf": 100.0},
        eligible_kinds=["startup", "sme"],
        storage_budget_gb=1000.0,
        rules={"max_hours": {"a100": 2000.0}} | (rules or {}),
    )
    return World(
        c,
        t,
        clock,
        principal(c, "rev1"),
        principal(c, "rev2"),
        principal(c, "acme-rev"),
        principal(c, "beth"),
        "startups-2027",
    )
