"""/v1/programs: funded programs with their budgets (created by center admins)."""

from __future__ import annotations

from fastapi import APIRouter

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody
from aidc.schemas_allocations import ProgramCreate, ProgramView
from aidc.services import programs

router = APIRouter(tags=["programs"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}


@router.post("/v1/programs", status_code=201, responses=ERRORS)
def create_program(body: ProgramCreate, c: CenterDep, p: PrincipalDep) -> ProgramView:
    return programs.create(
        c,
        p,
        body.name,
        kind=body.kind,
        description=body.description,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        eligible_kinds=body.eligible_kinds,
        budget_hours=body.budget_hours,
        storage_budget_gb=body.storage_budget_gb,
        rules=body.rules,
    )


@router.get("/v1/programs", responses=ERRORS)
def list_programs(c: CenterDep, p: PrincipalDep) -> list[ProgramView]:
    """Every program, with what it has granted and what it has left."""
    return programs.list_programs(c, p)


@router.get("/v1/programs/{name}", responses=ERRORS)
def show_program(name: str, c: CenterDep, p: PrincipalDep) -> ProgramView:
    return programs.show(c, p, name)
