"""Notebook pages: my JupyterLab sessions (state, progress, GPUs, idle time), the start
form, stop / restart / open, and the organisation's environments. "Open" asks
``services.notebook_access`` for the same login link ``aidc notebook open`` prints (a
two-minute ticket for this user and session) and sends the browser there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from aidc.portal import web
from aidc.portal.routes.notebook_form import START_FIELDS, parse_start
from aidc.portal.web import CenterDep, FormUserDep, TDep, UserDep
from aidc.schemas_notebooks import NotebookView
from aidc.services import environments, notebook_access, notebooks, tenancy
from aidc.services.errors import Forbidden, Invalid, NotFound
from aidc.services.portal_sessions import SessionUser
from aidc.settings import Settings

router = APIRouter()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.parent.state.settings
    return settings


def _idle_s(c: CenterDep, nb: NotebookView) -> float | None:
    since = nb.last_activity or nb.ready_at
    return None if since is None or nb.state != "ready" else max(0.0, c.clock() - since)


def _page(
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
    found = notebooks.list_sessions(c, p)
    return web.render(
        request,
        "notebooks.html",
        t,
        user,
        status=status,
        sessions=[(nb, _idle_s(c, nb)) for nb in found],
        projects=[x.name for x in tenancy.whoami(c, p).projects],
        envs=[e.name for e in environments.list_environments(c, p)],
        values={"gpus": "0", **values},
        errors=errors,
    )


@router.get("/notebooks")
def sessions(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    return _page(request, c, t, user, values={}, errors={})


@router.post("/notebooks")
async def start(request: Request, c: CenterDep, t: TDep, user: FormUserDep) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in START_FIELDS}
    try:
        nb = notebooks.start(c, _settings(request), user.principal, parse_start(values))
    except (Invalid, Forbidden, NotFound) as e:
        field = e.field if e.field in START_FIELDS else "project"
        errors = {str(field): e.message}
        return _page(request, c, t, user, values=values, errors=errors, status=422)
    return web.redirect(f"/notebooks/{nb.id}")


@router.get("/notebooks/{session_id}")
def session(session_id: str, request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    nb = notebooks.get(c, user.principal, session_id)
    return web.render(
        request,
        "notebook.html",
        t,
        user,
        nb=nb,
        idle_s=_idle_s(c, nb),
        mine=nb.user == user.principal.username,
    )


@router.post("/notebooks/{session_id}/stop")
def stop(session_id: str, c: CenterDep, user: FormUserDep) -> Response:
    notebooks.stop(c, user.principal, session_id)
    return web.redirect(f"/notebooks/{session_id}")


@router.post("/notebooks/{session_id}/restart")
def restart(session_id: str, request: Request, c: CenterDep, user: FormUserDep) -> Response:
    notebooks.restart(c, _settings(request), user.principal, session_id)
    return web.redirect(f"/notebooks/{session_id}")


@router.post("/notebooks/{session_id}/open")
def open_session(session_id: str, c: CenterDep, user: FormUserDep) -> Response:
    link = notebook_access.login_link(c, user.principal, session_id)
    # The proxy lives at /sessions/{id}/ beside the portal: the ticket becomes its cookie.
    return RedirectResponse(link.url, status_code=303)


@router.get("/environments")
def environment_list(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    found = environments.list_environments(c, user.principal)
    return web.render(request, "environments.html", t, user, envs=found)
