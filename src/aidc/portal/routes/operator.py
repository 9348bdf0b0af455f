"""The operator console: cluster map, queue by project and class, utilisation charts,
usage reports with CSV export, and the simulator's reports."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aidc.core.job_states import JobState
from aidc.portal import web
from aidc.portal.web import CenterDep, TDep, UserDep
from aidc.services import jobs, nodes, reports, reports_center, simulations
from aidc.settings import Settings

router = APIRouter()
CHART_DAYS = 14
USAGE_GROUPS = ("org-kind", "sector", "program")


@router.get("/ops/cluster")
def cluster(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = web.operator(user)
    pools: dict[str, list[object]] = defaultdict(list)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"free": 0, "used": 0, "down": 0})
    for n in nodes.list_nodes(c, p):
        pools[n.pool].append(n)
        tally = totals[n.accelerator_type or "cpu"]
        if n.state != "up":
            tally["down"] += n.accelerators
        else:
            tally["used"] += n.accelerators_used
            tally["free"] += n.accelerators - n.accelerators_used
    return web.render(
        request, "cluster.html", t, user, pools=dict(sorted(pools.items())), totals=totals
    )


@router.get("/ops/queue")
def queue(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = web.operator(user)
    waiting = jobs.list_jobs(c, p, state=JobState.QUEUED, limit=jobs.LIST_LIMIT_MAX)
    groups: dict[tuple[str, str], list[object]] = defaultdict(list)
    for j in sorted(waiting, key=lambda j: j.queue_position or 1 << 30):
        groups[(j.project, str(j.spec.get("priority_class", "normal")))].append(j)
    return web.render(request, "queue.html", t, user, groups=dict(sorted(groups.items())))


def _days(now: float) -> list[dt.date]:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return [today - dt.timedelta(days=i) for i in range(CHART_DAYS - 1, -1, -1)]


@router.get("/ops/utilisation")
def utilisation(request: Request, c: CenterDep, t: TDep, user: UserDep) -> Response:
    p = web.operator(user)
    days = _days(c.clock())
    series: dict[str, dict[str, list[float]]] = {}
    for i, day in enumerate(days):
        nxt = day + dt.timedelta(days=1)
        report = reports_center.utilisation(c, p, from_=day.isoformat(), to=nxt.isoformat())
        for row in report.rows:
            s = series.setdefault(
                row.accelerator_type,
                {k: [0.0] * len(days) for k in ("capacity", "allocated", "used")},
            )
            s["capacity"][i] = row.capacity_device_hours
            s["allocated"][i] = row.allocated_hours
            s["used"][i] = row.used_hours
    chart = {
        "days": [dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp() for d in days],
        "labels": {k: t(f"util.{k}") for k in ("capacity", "allocated", "used", "day")},
        "unit": t("unit.hours"),
        "series": series,
    }
    month = dt.datetime.fromtimestamp(c.clock(), dt.UTC).strftime("%Y-%m")
    usage = {by: reports.usage(c, p, by=[by], month=month) for by in USAGE_GROUPS}
    return web.render(
        request,
        "utilisation.html",
        t,
        user,
        days=[d.isoformat() for d in days],
        series=series,
        chart_json=json.dumps(chart),
        month=month,
        usage=usage,
        month_report=reports_center.utilisation(c, p, month=month),
    )


@router.get("/ops/reports/usage.csv")
def usage_csv(
    c: CenterDep,
    user: UserDep,
    by: Annotated[list[str] | None, Query()] = None,
    month: str | None = None,
) -> Response:
    """The usage report as CSV, the same as ``GET /v1/reports/usage?format=csv``."""
    report = reports.usage(c, web.operator(user), by=by or [], month=month)
    name = f"aidc-usage-{'-'.join(by or ['total'])}-{month or 'all'}.csv"
    return Response(
        reports.csv_text(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.parent.state.settings
    return s


@router.get("/ops/simulations")
def simulation_list(request: Request, t: TDep, user: UserDep) -> Response:
    p = web.operator(user)
    found = simulations.listing(_settings(request), p)
    return web.render(request, "simulations.html", t, user, simulations=found)


@router.get("/ops/simulations/{sim_id}/report", response_class=HTMLResponse)
def simulation_report(sim_id: str, request: Request, user: UserDep) -> Response:
    html = simulations.html(_settings(request), web.operator(user), sim_id)
    # The simulator's own page (inline styles and images): a sandboxed document.
    csp = "default-src 'none'; img-src data: 'self'; style-src 'unsafe-inline'; sandbox"
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})
