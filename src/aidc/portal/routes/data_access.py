"""Access to restricted data: my access grants and the request form (on the dataset's
page); stewards decide pending grants; the airlock, where the outputs of jobs that read
restricted data wait for a steward to release or reject them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from aidc.portal import web
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.schemas_datasets import GrantDecision, GrantRequest
from aidc.services import datasets_airlock, datasets_grants
from aidc.services.datasets_access import is_steward
from aidc.services.errors import Invalid, NotFound

router = APIRouter()
DAY_S = 86400.0


@router.get("/datasets-access/grants")
def grants(request: Request, c: CenterDep, t: TDep, user: UserDep, state: str = "") -> Response:
    p = user.principal
    found = datasets_grants.list_grants(c, p, state=state or None)
    return web.render(
        request, "grants.html", t, user, grants=found, steward=is_steward(p), state=state
    )


@router.get("/datasets-access/grants/{grant_id}")
def grant(grant_id: int, request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = user.principal
    # list_grants is the services' scoping: another organisation's grant is not there.
    found = [g for g in datasets_grants.list_grants(c, p) if g.id == grant_id]
    if not found:
        raise NotFound(f"no grant {grant_id}", field="grant")
    return web.render(
        request, "grants.html", t, user, grants=found, steward=is_steward(p), state=""
    )


@router.post("/datasets/{name}/grants")
def request_grant(
    name: str,
    c: CenterDep,
    user: FormUserDep,
    project: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    days: Annotated[str, Form()] = "90",
) -> Response:
    try:
        length = float(days)
    except ValueError:
        raise Invalid("days must be a number", field="days") from None
    if not purpose.strip():
        raise Invalid("say what the data is for", field="purpose")
    ends = dt.datetime.now(dt.UTC).timestamp() + length * DAY_S
    g = datasets_grants.request_grant(
        c,
        user.principal,
        GrantRequest(dataset=name, project=project or None, purpose=purpose, ends_at=ends),
    )
    return web.redirect(f"/datasets-access/grants/{g.id}")


@router.post("/datasets-access/grants/{grant_id}/{decision}")
def decide_grant(
    grant_id: int,
    decision: str,
    c: CenterDep,
    user: FormUserDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("approve", "reject"):
        raise NotFound(f"no decision {decision!r}")
    datasets_grants.decide(
        c, user.principal, grant_id, decision == "approve", GrantDecision(reason=reason)
    )
    return web.redirect(f"/datasets-access/grants/{grant_id}")


@router.get("/datasets-access/airlock")
def airlock(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = user.principal
    found = datasets_airlock.list_outputs(c, p)
    return web.render(request, "airlock.html", t, user, outputs=found, steward=is_steward(p))


@router.post("/datasets-access/airlock/{job_id}/{decision}")
def decide_output(
    job_id: str,
    decision: str,
    c: CenterDep,
    user: FormUserDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    if decision not in ("release", "reject"):
        raise NotFound(f"no decision {decision!r}")
    datasets_airlock.decide(
        c, user.principal, job_id, decision == "release", GrantDecision(reason=reason)
    )
    return web.redirect("/datasets-access/airlock")
