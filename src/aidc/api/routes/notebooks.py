"""/v1/notebooks (sessions) and /v1/environments (named software environments)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody
from aidc.schemas_notebooks import (
    EnvironmentCreate,
    EnvironmentView,
    LoginLink,
    NotebookStart,
    NotebookView,
)
from aidc.services import environments, notebook_access, notebooks
from aidc.settings import Settings

router = APIRouter(tags=["notebooks"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/v1/notebooks", status_code=201, responses=ERRORS)
def start(body: NotebookStart, request: Request, c: CenterDep, p: PrincipalDep) -> NotebookView:
    """Start a JupyterLab session as an interactive job; it is reached at its ``url``."""
    return notebooks.start(c, _settings(request), p, body)


@router.get("/v1/notebooks", responses=ERRORS)
def list_sessions(c: CenterDep, p: PrincipalDep, active: bool = False) -> list[NotebookView]:
    return notebooks.list_sessions(c, p, active_only=active)


@router.get("/v1/notebooks/{session_id}", responses=ERRORS)
def get(session_id: str, c: CenterDep, p: PrincipalDep) -> NotebookView:
    return notebooks.get(c, p, session_id)


@router.post("/v1/notebooks/{session_id}/stop", responses=ERRORS)
def stop(session_id: str, c: CenterDep, p: PrincipalDep) -> NotebookView:
    return notebooks.stop(c, p, session_id)


@router.post("/v1/notebooks/{session_id}/restart", responses=ERRORS)
def restart(session_id: str, request: Request, c: CenterDep, p: PrincipalDep) -> NotebookView:
    return notebooks.restart(c, _settings(request), p, session_id)


@router.post("/v1/notebooks/{session_id}/login", responses=ERRORS)
def login(session_id: str, c: CenterDep, p: PrincipalDep) -> LoginLink:
    """A link that logs a browser into the session (valid two minutes, for you only)."""
    return notebook_access.login_link(c, p, session_id)


@router.post("/v1/environments", status_code=201, responses=ERRORS)
def create_environment(
    body: EnvironmentCreate, request: Request, c: CenterDep, p: PrincipalDep
) -> EnvironmentView:
    """Record an environment; its requirements are built into a cached virtualenv."""
    return environments.create(c, _settings(request), p, body)


@router.get("/v1/environments", responses=ERRORS)
def list_environments(c: CenterDep, p: PrincipalDep) -> list[EnvironmentView]:
    return environments.list_environments(c, p)


@router.get("/v1/environments/{name}", responses=ERRORS)
def get_environment(name: str, c: CenterDep, p: PrincipalDep) -> EnvironmentView:
    return environments.get(c, p, name)


@router.get(
    "/v1/environments/{name}/log",
    # Errors are JSON although the log is text (the response class sets the default type).
    responses={
        **{s: v | {"content": {"application/json": {}}} for s, v in ERRORS.items()},
        200: {"content": {"text/plain": {}}},
    },
    response_class=PlainTextResponse,
)
def environment_log(name: str, c: CenterDep, p: PrincipalDep) -> str:
    """The build log of the environment's virtualenv."""
    return environments.build_log(c, p, name)
