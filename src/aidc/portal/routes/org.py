"""Organisation pages: members and their roles; allocation requests, their state and the
form an org admin asks a program for capacity with."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from aidc.portal import web
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.services import allocation_views, allocations, organisations, programs
from aidc.services.errors import Forbidden, Invalid, NotFound
from aidc.services.portal_sessions import SessionUser

router = APIRouter()
ALLOCATION_FIELDS = (
    "project",
    "program",
    "resource",
    "hours",
    "quota",
    "storage_gb",
    "starts_at",
    "ends_at",
    "justification",
)


@router.get("/org")
def organisation(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = user.principal
    return web.render(
        request,
        "org.html",
        t,
        user,
        org=organisations.show(c, p, p.org_name),
        members=organisations.members(c, p, p.org_name),
        roles=["org-admin", "member", "viewer"],
    )


@router.post("/org/members/{username}/role")
def set_role(
    username: str, c: CenterDep, user: FormUserDep, role: Annotated[str, Form()] = ""
) -> Response:
    organisations.set_role(c, user.principal, user.principal.org_name, username, role)
    return web.redirect("/org")


@router.get("/allocations")
def allocation_list(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    found = allocation_views.list_allocations(c, user.principal)
    return web.render(request, "allocations.html", t, user, allocations=found)


@router.get("/allocations/new")
def allocation_form(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    return _form(request, c, t, user, values={}, errors={})


def _form(
    request: Request,
    c: CenterDep,
    t: TDep,
    user: SessionUser,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    p = user.principal
    org = organisations.show(c, p, p.org_name)
    # Only the programs the organisation may ask (the service refuses the others anyway).
    progs = [
        x
        for x in programs.list_programs(c, p)
        if not x.eligible_kinds or org.kind in x.eligible_kinds
    ]
    resources = sorted({r for x in progs for r in x.budget_hours} | {"pf"})
    today = dt.datetime.now(dt.UTC).date()
    defaults = {
        "starts_at": today.isoformat(),
        "ends_at": (today + dt.timedelta(days=90)).isoformat(),
        "resource": resources[0] if resources else "",
    }
    return web.render(
        request,
        "allocation_new.html",
        t,
        user,
        status=status,
        projects=org.projects,
        programs=[x.name for x in progs],
        resources=resources,
        values={**defaults, **values},
        errors=errors,
    )


@router.post("/allocations")
async def request_allocation(
    request: Request, c: CenterDep, t: TDep, user: FormUserDep
) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ALLOCATION_FIELDS}
    try:
        created = allocations.request(
            c,
            user.principal,
            project=values["project"],
            program=values["program"],
            justification=values["justification"],
            hours={values["resource"]: _number(values["hours"], "hours")},
            quota=(
                {values["resource"]: _number(values["quota"], "quota")} if values["quota"] else {}
            ),
            storage_gb=_number(values["storage_gb"] or "0", "storage_gb"),
            starts_at=_date(values["starts_at"], "starts_at"),
            ends_at=_date(values["ends_at"], "ends_at"),
        )
    except (Invalid, Forbidden, NotFound) as e:
        errors = {_field(e.field): e.message}
        return _form(request, c, t, user, values=values, errors=errors, status=422)
    return web.redirect(f"/allocations/{created.id}")


def _field(field: str | None) -> str:
    # The services name nested fields (hours.a100); the form has one box per kind.
    name = (field or "justification").split(".")[0]
    return name if name in ALLOCATION_FIELDS else "justification"


def _number(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise Invalid(f"{field} must be a number", field=field) from None


def _date(text: str, field: str) -> float:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{field} must be a date (YYYY-MM-DD)", field=field) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


@router.get("/allocations/{allocation_id}")
def allocation_detail(
    allocation_id: int, request: Request, c: CenterDep, t: TDep, user: UserDep
) -> Response:
    p = user.principal
    a = allocation_views.show(c, p, allocation_id)
    return web.render(
        request,
        "allocation.html",
        t,
        user,
        a=a,
        history=allocation_views.history(c, p, allocation_id),
        may_review=p.role.value in ("center-admin", "reviewer")
        and a.state == "requested"
        and p.username not in a.approvals,
    )
