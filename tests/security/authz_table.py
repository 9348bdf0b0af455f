"""Who may call which route on whose object: the authorisation matrix, as data.

One entry per (method, path) of the app's route table; ``test_authz_matrix`` fails for a
route without one. An entry says which kinds of caller are allowed:

- ``member``: a member of the tenant that owns the target (a_member on A, b_member on B);
- ``admin``: that tenant's org admin (a_admin on A; the matrix has no B admin caller);
- ``reviewer``, ``center_admin``, ``anonymous``: those callers, on any target.

A tenant's caller on the *other* tenant's object is always denied, and that denial must look
exactly like "not found" (the test compares it with the answer for a missing id). Only
``any_tenant`` routes (a one-time code is the credential) lift that rule.

``targets`` are "A"/"B" (the route names a tenant's object) or "-" (none, or a center-wide
one). ``path``, ``query`` and ``body`` refer to the world's objects by kind
(``world.objects[target][kind]``); ``absent`` marks routes whose object the world lacks (a
simulation), where allowed callers get 404 and denied ones 401/403.

Adding a route is one entry here, plus its objects in ``world.build`` if it names new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Body = Callable[[dict[str, str]], Any]  # the target's objects -> JSON body (or CSV text)

SIGNED_IN = "member admin reviewer steward center_admin"
TENANT = ("A", "B")


@dataclass(frozen=True)
class Rule:
    who: frozenset[str]
    targets: tuple[str, ...] = ("-",)
    path: dict[str, str] = field(default_factory=dict)  # path param -> object kind
    query: dict[str, str] = field(default_factory=dict)  # query param -> kind or "=literal"
    body: Body | None = None
    absent: bool = False
    any_tenant: bool = False
    # Statuses that deny besides 401/403/404 (a 422 naming the field of another tenant's
    # project, worded exactly as for a project that does not exist).
    deny_status: tuple[int, ...] = ()
    # Routes that answer 200 with a per-item verdict: the verdict says allowed or not.
    verdict: Callable[[Any], bool] | None = None
    # Statuses of 500 and over that still mean "let through": the proxy admitted the caller
    # and the notebook behind it is not running (503), which the matrix's world never has.
    downstream: tuple[int, ...] = ()
    # The object is public metadata (the dataset catalog: every user sees every entry), so a
    # denial may name it and a list may show other tenants' entries (no leak check).
    public: bool = False


def rule(who: str, targets: tuple[str, ...] = ("-",), **kw: Any) -> Rule:
    return Rule(who=frozenset(who.split()), targets=targets, **kw)


def _job(o: dict[str, str]) -> dict[str, Any]:
    return {"project": o["project"], "command": ["true"]}


def _ask(o: dict[str, str]) -> dict[str, Any]:
    return {
        "justification": "more",
        "hours": {"a100": 10.0},
        "starts_at": 1_900_000_000.0,
        "ends_at": 1_900_500_000.0,
    }


def _cancelled(body: Any) -> bool:
    return bool(body[0]["result"] in ("cancelled", "stopping", "finished"))


def _course(o: dict[str, str]) -> dict[str, Any]:
    return {
        "name": f"new-{o['course']}",
        "organisation": o["org"],
        "program": "edu-2027",
        "instructor": o["member"],
        "starts_at": 1_900_000_000.0,
        "ends_at": 1_900_500_000.0,
        "student_hours": {"a100": 1.0},
    }


JOB = {"job_id": "job_id"}
ALLOC = {"allocation_id": "allocation_id"}
ORG = {"name": "org"}
COURSE = {"name": "course"}
READ_JOB = rule("member admin center_admin", TENANT, path=JOB)
# Who reads an allocation: its organisation's people, its reviewers, the operators.
READ_ALLOC = rule("member admin reviewer center_admin", TENANT, path=ALLOC)
REVIEW = rule("reviewer center_admin", TENANT, path=ALLOC, body=lambda o: {"reason": "x"})
APPLICANT = "admin"

TABLE: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): rule("anonymous " + SIGNED_IN),
    ("GET", "/v1/whoami"): rule(SIGNED_IN),
    ("GET", "/v1/nodes"): rule(SIGNED_IN),
    # jobs
    ("POST", "/v1/jobs"): rule("member admin center_admin", TENANT, body=_job, deny_status=(422,)),
    ("GET", "/v1/jobs"): rule(SIGNED_IN),
    ("POST", "/v1/jobs/cancel"): rule(
        "member admin center_admin",
        TENANT,
        body=lambda o: {"ids": [o["job_id"]]},
        verdict=_cancelled,
    ),
    ("GET", "/v1/jobs/export"): rule(SIGNED_IN),
    ("GET", "/v1/jobs/{job_id}"): READ_JOB,
    ("POST", "/v1/jobs/{job_id}/cancel"): READ_JOB,  # the owner, its org admin, operators
    ("GET", "/v1/jobs/{job_id}/events"): READ_JOB,
    ("GET", "/v1/jobs/{job_id}/logs"): READ_JOB,
    # policy, quotas, cohorts, shares: everyone reads (scoped), operators change
    ("GET", "/v1/policy"): rule(SIGNED_IN),
    ("PUT", "/v1/policy"): rule("center_admin", body=lambda o: {"preset": "sjf"}),
    ("GET", "/v1/quotas"): rule(SIGNED_IN),
    ("PUT", "/v1/quotas"): rule(
        "center_admin",
        TENANT,
        body=lambda o: {"project": o["project"], "resource": "a100", "nominal": 2},
    ),
    ("DELETE", "/v1/quotas"): rule(
        "center_admin", TENANT, query={"project": "project", "resource": "=a100"}
    ),
    ("GET", "/v1/cohorts"): rule(SIGNED_IN),
    ("POST", "/v1/cohorts"): rule("center_admin", body=lambda o: {"name": "regional"}),
    ("PATCH", "/v1/cohorts/{name}"): rule(
        "center_admin", path={"name": "cohort"}, body=lambda o: {"parent": None}
    ),
    ("PUT", "/v1/projects/{name}/shares"): rule(
        "center_admin", TENANT, path={"name": "project"}, body=lambda o: {"shares": 2.0}
    ),
    # simulations: operators only
    ("POST", "/v1/simulations"): rule(
        "center_admin",
        body=lambda o: {"trace_text": "x", "format": "tiresias", "cluster": "no-such-cluster"},
    ),
    ("GET", "/v1/simulations"): rule("center_admin"),
    ("GET", "/v1/simulations/{sim_id}"): rule(
        "center_admin", path={"sim_id": "sim_id"}, absent=True
    ),
    ("GET", "/v1/simulations/{sim_id}/report"): rule(
        "center_admin", path={"sim_id": "sim_id"}, absent=True
    ),
    # courses: the organisation's admins and the operators manage them
    ("POST", "/v1/courses"): rule("admin center_admin", TENANT, body=_course),
    ("GET", "/v1/courses"): rule(SIGNED_IN),
    # The organisation's members see its courses (a student row only their own).
    ("GET", "/v1/courses/{name}"): rule("member admin center_admin", TENANT, path=COURSE),
    ("GET", "/v1/courses/{name}/students"): rule("member admin center_admin", TENANT, path=COURSE),
    ("POST", "/v1/courses/{name}/roster"): rule(
        "admin center_admin",
        TENANT,
        path=COURSE,
        body=lambda o: "username,email,full_name\nstu1,stu1@uni.example,Student One\n",
    ),
    # reports
    ("GET", "/v1/reports/usage"): rule(SIGNED_IN),
    ("GET", "/v1/reports/utilisation"): rule("reviewer center_admin"),
    ("GET", "/v1/reports/burndown"): rule(
        "member admin reviewer center_admin", TENANT, query={"allocation": "allocation_id"}
    ),
    ("GET", "/metrics"): rule("center_admin"),
    # organisations, members, invitations
    ("POST", "/v1/organisations"): rule(
        "center_admin", body=lambda o: {"name": "Gamma", "kind": "university"}
    ),
    ("GET", "/v1/organisations"): rule(SIGNED_IN),
    ("GET", "/v1/organisations/{name}"): rule(
        "member admin reviewer center_admin", TENANT, path=ORG
    ),
    ("PATCH", "/v1/organisations/{name}"): rule(
        "admin center_admin", TENANT, path=ORG, body=lambda o: {"region": "Gwangju"}
    ),
    ("GET", "/v1/organisations/{name}/members"): rule(
        "member admin center_admin", TENANT, path=ORG
    ),
    ("PUT", "/v1/organisations/{name}/members/{username}/role"): rule(
        "admin center_admin",
        TENANT,
        path={"name": "org", "username": "member"},
        body=lambda o: {"role": "viewer"},
    ),
    ("POST", "/v1/organisations/{name}/invitations"): rule(
        "admin center_admin", TENANT, path=ORG, body=lambda o: {"username": "zed"}
    ),
    ("GET", "/v1/organisations/{name}/invitations"): rule("admin center_admin", TENANT, path=ORG),
    ("DELETE", "/v1/invitations/{invitation_id}"): rule(
        "admin center_admin", TENANT, path={"invitation_id": "invitation_id"}
    ),
    # The one-time code is the credential: whoever holds it joins (no token needed).
    ("POST", "/v1/invitations/accept"): rule(
        "anonymous " + SIGNED_IN,
        TENANT,
        any_tenant=True,
        body=lambda o: {"code": o["invitation_code"], "username": o["invitation_username"]},
    ),
    # programs: center-wide, everyone reads
    ("POST", "/v1/programs"): rule(
        "center_admin",
        body=lambda o: {
            "name": "new-program",
            "starts_at": 1_900_000_000.0,
            "ends_at": 1_900_500_000.0,
            "budget_hours": {"a100": 10.0},
        },
    ),
    ("GET", "/v1/programs"): rule(SIGNED_IN),
    ("GET", "/v1/programs/{name}"): rule(SIGNED_IN, path={"name": "program"}),
    # allocations: the applicant's org admins ask, reviewers decide
    ("POST", "/v1/allocations"): rule(
        APPLICANT,
        TENANT,
        body=lambda o: _ask(o) | {"project": o["project"], "program": "open-2027"},
    ),
    ("GET", "/v1/allocations"): rule(SIGNED_IN),
    ("GET", "/v1/allocations/{allocation_id}"): READ_ALLOC,
    ("GET", "/v1/allocations/{allocation_id}/events"): READ_ALLOC,
    ("POST", "/v1/allocations/{allocation_id}/comment"): rule(
        "admin reviewer center_admin", TENANT, path=ALLOC, body=lambda o: {"reason": "x"}
    ),
    ("POST", "/v1/allocations/{allocation_id}/ask-changes"): REVIEW,
    ("POST", "/v1/allocations/{allocation_id}/approve"): REVIEW,
    ("POST", "/v1/allocations/{allocation_id}/reject"): REVIEW,
    ("POST", "/v1/allocations/{allocation_id}/resubmit"): rule(
        APPLICANT, TENANT, path=ALLOC, body=lambda o: {"reason": "x"}
    ),
    ("POST", "/v1/allocations/{allocation_id}/withdraw"): rule(
        APPLICANT, TENANT, path=ALLOC, body=lambda o: {"reason": "x"}
    ),
    ("POST", "/v1/allocations/{allocation_id}/renew"): rule(
        APPLICANT, TENANT, path=ALLOC, body=_ask
    ),
    ("POST", "/v1/allocations/{allocation_id}/change"): rule(
        APPLICANT, TENANT, path=ALLOC, body=lambda o: {"justification": "more"}
    ),
    # ledger views: scoped to what the caller may see
    ("GET", "/v1/credits"): rule(SIGNED_IN),
    ("GET", "/v1/notifications"): rule(SIGNED_IN),
    ("GET", "/v1/ledger"): rule(SIGNED_IN),
    # tokens: your own (a tenant's target is its member's token); the security log
    ("GET", "/v1/tokens"): rule(SIGNED_IN),
    ("POST", "/v1/tokens"): rule(SIGNED_IN, body=lambda o: {"name": "laptop"}),
    ("DELETE", "/v1/tokens/{token_id}"): rule(
        "member center_admin", TENANT, path={"token_id": "token_id"}
    ),
    ("GET", "/v1/audit"): rule("center_admin"),
    ("GET", "/"): rule("anonymous " + SIGNED_IN),  # the redirect to the portal
}

# Datasets, notebooks, environments, passwords: in their own file (it imports ``rule``).
from tests.security.authz_table_data import DATA_ROUTES, NOTEBOOK_ROUTES  # noqa: E402
from tests.security.authz_table_validation import VALIDATION_ROUTES  # noqa: E402

TABLE |= DATA_ROUTES | NOTEBOOK_ROUTES | VALIDATION_ROUTES
