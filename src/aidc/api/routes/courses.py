"""/v1/courses: courses of education programs, their rosters and students."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from aidc.api.deps import CenterDep, PrincipalDep
from aidc.schemas import ErrorBody
from aidc.schemas_courses import (
    CourseCreate,
    CourseView,
    RosterBody,
    RosterImportView,
    StudentView,
)
from aidc.services import course_roster, courses
from aidc.services.errors import Invalid

router = APIRouter(tags=["courses"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}
# A roster of MAX_ROWS students with long names stays well below this.
MAX_ROSTER_BYTES = 4 * 1024 * 1024
JSON_FORM = 'give the roster as {"csv": "username,email,full_name\\n..."}'
ROSTER_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": RosterBody.model_json_schema()},
        },
    }
}


@router.post("/v1/courses", status_code=201, responses=ERRORS)
def create_course(body: CourseCreate, c: CenterDep, p: PrincipalDep) -> CourseView:
    """Create a course of an education program (center admins, the organisation's admins)."""
    return courses.create_course(c, p, body)


@router.get("/v1/courses", responses=ERRORS)
def list_courses(c: CenterDep, p: PrincipalDep) -> list[CourseView]:
    """Courses you may see: all (center admins), your organisation's, or your own."""
    return courses.list_courses(c, p)


@router.get("/v1/courses/{name}", responses=ERRORS)
def show_course(name: str, c: CenterDep, p: PrincipalDep) -> CourseView:
    """The course with its students and their credit use (a student sees their own row)."""
    return courses.show_course(c, p, name)


@router.get("/v1/courses/{name}/students", responses=ERRORS)
def list_students(name: str, c: CenterDep, p: PrincipalDep) -> list[StudentView]:
    return courses.list_students(c, p, name)


@router.post("/v1/courses/{name}/roster", responses=ERRORS, openapi_extra=ROSTER_BODY)
async def import_roster(
    name: str, request: Request, c: CenterDep, p: PrincipalDep
) -> RosterImportView:
    """Enrol a roster (CSV as text/csv, or JSON {"csv": ...}); all rows or none. The new
    students' tokens come back once, as CSV."""
    text = await _roster_text(request)
    return await run_in_threadpool(course_roster.import_roster, c, p, name, text)


async def _roster_text(request: Request) -> str:
    if int(request.headers.get("content-length") or 0) > MAX_ROSTER_BYTES:
        raise Invalid(f"the roster is larger than {MAX_ROSTER_BYTES} bytes", field="csv")
    raw = await request.body()
    if len(raw) > MAX_ROSTER_BYTES:
        raise Invalid(f"the roster is larger than {MAX_ROSTER_BYTES} bytes", field="csv")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            return RosterBody.model_validate_json(raw).csv
        except ValidationError:
            raise Invalid(JSON_FORM, field="csv") from None
    if kind not in ("text/csv", "text/plain", ""):
        raise Invalid(f"send the roster as text/csv or application/json, not {kind}", "csv")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the roster is not UTF-8 text; save the CSV as UTF-8", field="csv") from None
