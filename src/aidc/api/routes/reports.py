"""/v1/reports: usage (JSON or CSV), the center's utilisation, an allocation's burn-down;
and /metrics for Prometheus (center admins' tokens)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from aidc import metrics
from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.params import RowIdQuery
from aidc.schemas import ErrorBody
from aidc.schemas_reports import BurnDown, UsageReport, UtilisationReport
from aidc.services import reports, reports_center
from aidc.services.errors import Forbidden

router = APIRouter(tags=["reports"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 422)}
FromQuery = Annotated[str | None, Query(alias="from", description="First day (YYYY-MM-DD, UTC).")]
ToQuery = Annotated[str | None, Query(description="Day after the last (YYYY-MM-DD, exclusive).")]
MonthQuery = Annotated[str | None, Query(description="A UTC month, YYYY-MM.")]


@router.get(
    "/v1/reports/usage",
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
    response_model=UsageReport,
)
def usage(
    c: CenterDep,
    p: PrincipalDep,
    by: Annotated[list[str] | None, Query(description="Grouping keys, repeated.")] = None,
    month: MonthQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    format: Literal["json", "csv"] = "json",
) -> UsageReport | Response:
    """Usage you may see, grouped by org, project, program, org-kind, sector, region,
    accelerator-type, day and/or month, over a month, from/to dates, or all time."""
    report = reports.usage(c, p, by=by or [], month=month, from_=from_, to=to)
    if format == "csv":
        return Response(reports.csv_text(report), media_type="text/csv; charset=utf-8")
    return report


@router.get("/v1/reports/utilisation", responses=ERRORS)
def utilisation(
    c: CenterDep,
    p: PrincipalDep,
    month: MonthQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
) -> UtilisationReport:
    """Capacity, allocation and use per accelerator type (center admins and reviewers)."""
    return reports_center.utilisation(c, p, month=month, from_=from_, to=to)


@router.get("/v1/reports/burndown", responses=ERRORS)
def burndown(
    c: CenterDep, p: PrincipalDep, allocation: RowIdQuery = None, project: str | None = None
) -> list[BurnDown]:
    """Granted, used and remaining hours per resource, by day, with projected exhaustion."""
    return reports_center.burndown(c, p, allocation=allocation, project=project)


@router.get(
    "/metrics",
    responses={**ERRORS, 200: {"content": {"text/plain": {}}}},
    response_class=Response,
)
async def prometheus(c: CenterDep, p: PrincipalDep) -> Response:
    """Prometheus metrics (text format); scrape with a center admin's bearer token."""
    if not p.is_center_admin:
        raise Forbidden("metrics are for center admins")
    body, content_type = await run_in_threadpool(metrics.render, c)
    return Response(body, media_type=content_type)
