"""The allocation review queue and the reviewers' decisions (approve, ask for changes,
reject); the services check that the caller reviews that program."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from aidc.portal import web
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.services import allocation_review, allocation_views

router = APIRouter()
WAITING = ("requested", "changes-requested")


@router.get("/ops/reviews")
def review_queue(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = web.operator(user)
    waiting = [a for s in WAITING for a in allocation_views.list_allocations(c, p, state=s)]
    waiting.sort(key=lambda a: a.created_at)
    return web.render(request, "reviews.html", t, user, allocations=waiting)


@router.post("/ops/reviews/{allocation_id}/{decision}")
def decide(
    allocation_id: int,
    decision: str,
    c: CenterDep,
    user: FormUserDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    p = web.operator(user)
    if decision == "approve":
        allocation_review.approve(c, p, allocation_id, reason=reason)
    elif decision == "ask-changes":
        allocation_review.ask_changes(c, p, allocation_id, reason)
    elif decision == "reject":
        allocation_review.reject(c, p, allocation_id, reason)
    else:
        return web.redirect(f"/allocations/{allocation_id}")
    return web.redirect(f"/allocations/{allocation_id}")
