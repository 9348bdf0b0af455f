"""/v1/simulations: replay a trace under policies on the server; center operators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.errors import json_errors
from aidc.schemas import ErrorBody
from aidc.schemas_simulation import SimulationCreate, SimulationView
from aidc.services import simulations
from aidc.settings import Settings

router = APIRouter(prefix="/v1/simulations", tags=["simulations"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 422)}


CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


@router.post("", status_code=202, responses=ERRORS)
def start(
    body: SimulationCreate, request: Request, c: CenterDep, p: PrincipalDep
) -> SimulationView:
    """Start a simulation of a trace in the traces directory (``trace``) or uploaded
    (``trace_text``); it runs in the background: poll ``GET /v1/simulations/{id}``."""
    return simulations.start(c, _settings(request), p, body)


@router.get("", responses=ERRORS)
def listing(
    request: Request, p: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[SimulationView]:
    """Simulations, newest first (without their results)."""
    return simulations.listing(_settings(request), p, limit)


@router.get("/{sim_id}", responses=ERRORS)
def show(sim_id: str, request: Request, p: PrincipalDep) -> SimulationView:
    """One simulation: its state and, once it succeeded, the result document."""
    return simulations.get(_settings(request), p, sim_id)


@router.get("/{sim_id}/report", response_class=HTMLResponse, responses=json_errors(ERRORS))
def report(sim_id: str, request: Request, p: PrincipalDep) -> HTMLResponse:
    """The HTML report of a simulation that succeeded (self-contained: figures inline)."""
    page = simulations.html(_settings(request), p, sim_id)
    # The page needs nothing from anywhere: no scripts, figures inline.
    return HTMLResponse(page, headers={"Content-Security-Policy": CSP})
