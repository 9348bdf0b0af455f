"""A validation's report as a self-contained HTML page (the table, and charts as inline
SVG: no script, no CDN) or a PDF (matplotlib's PDF backend), each showing every result's
hash and whether it verifies (docs/validation.md, "Reports")."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader

from aidc.core.tenancy import Principal
from aidc.schemas_validation import COLUMNS, CompareRow, CompareView, ValidationView, cells
from aidc.services.center import Center
from aidc.services.validations_compare import compare
from aidc.services.validations_read import show

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHARTS: tuple[tuple[str, str, Callable[[CompareRow], float | None]], ...] = (
    ("p99 latency (ms), single-stream", "p99 ms", lambda r: r.p99_ms),
    ("throughput (samples/s), offline", "samples/s", lambda r: r.throughput_per_s),
    ("accuracy", "metric", lambda r: r.metric),
)


def report(center: Center, p: Principal, validation_id: str) -> tuple[ValidationView, CompareView]:
    return show(center, p, validation_id), compare(center, p, validation_id)


def _labels(rows: list[CompareRow]) -> list[str]:
    return [f"{r.accelerator}\n{r.model_sha256[:8]}" for r in rows]


def _figure(
    title: str, unit: str, rows: list[CompareRow], get: Callable[[CompareRow], float | None]
) -> Figure:
    from matplotlib.figure import Figure  # imported on first use: it is slow to load

    fig = Figure(figsize=(7.0, 2.8))
    ax = fig.add_subplot()
    values = [get(r) or 0.0 for r in rows]
    ax.bar(range(len(rows)), values, color="#3b6ea8")
    ax.set_xticks(range(len(rows)), _labels(rows), fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit, fontsize=8)
    fig.tight_layout()
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]  # inline: without the XML prologue and doctype


# The page's template beside this module (package data, like the portal's templates).
_PAGE = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=True
).get_template("validation_report.html")


def html(center: Center, p: Principal, validation_id: str) -> str:
    v, c = report(center, p, validation_id)
    charts = [_svg(_figure(t, u, c.rows, get)) for t, u, get in CHARTS] if c.rows else []
    return _PAGE.render(
        v=v,
        c=c,
        columns=COLUMNS,
        rows=[{"cells": cells(r)} for r in c.rows],
        charts=charts,
        created=_when(v.created_at),
    )


def pdf(center: Center, p: Principal, validation_id: str) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    v, c = report(center, p, validation_id)
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"Validation {v.id}", "CreationDate": None}) as pages:
        first = Figure(figsize=(11.69, 8.27))  # A4, landscape
        first.text(0.03, 0.95, f"Validation {v.name} ({v.id})", fontsize=16, weight="bold")
        lines = [
            f"model {v.model_name}, SHA-256 {v.model_sha256}, {v.model_bytes} bytes",
            f"dataset {v.dataset}, metric {v.metric}, scenarios {', '.join(v.scenarios)}",
            f"project {v.project} of {v.organisation}, by {v.created_by}, {_when(v.created_at)}",
            f"targets: {', '.join(v.targets) or 'none'}",
        ]
        for i, line in enumerate(lines):
            first.text(0.03, 0.90 - 0.035 * i, line, fontsize=9)
        ax = first.add_axes((0.03, 0.35, 0.94, 0.38))
        ax.axis("off")
        if c.rows:
            table = ax.table(
                cellText=[cells(r) for r in c.rows], colLabels=list(COLUMNS), loc="upper center"
            )
            table.auto_set_font_size(False)
            table.set_fontsize(7)
        y = 0.30
        first.text(
            0.03, y, "Result hashes (SHA-256 of the canonical result) and integrity:", fontsize=9
        )
        for r in v.runs:
            y -= 0.03
            first.text(
                0.03,
                y,
                f"{r.accelerator}: {r.result_sha256 or '-'}  {r.integrity}  ({r.state})",
                fontsize=8,
                family="monospace",
            )
        pages.savefig(first)
        for t, u, get in CHARTS if c.rows else ():
            pages.savefig(_figure(t, u, c.rows, get))
    return buf.getvalue()


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
