"""The report of one or more policies on the same trace and cluster: JSON, HTML and PNGs.

``document(meta, runs)`` is the deterministic part: run metadata (trace, cluster, seed,
options, aidc version; never a wall-clock time) and per policy its ``metrics.evaluate``
data. ``write(out, doc)`` puts ``result.json`` (canonical JSON: the same trace, policies
and seed give the same bytes), one PNG per figure and ``report.html`` (the figures embedded
as data URIs, so the file stands alone: no CDN, nothing fetched) into ``out``.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aidc import __version__
from aidc.sim import plots
from aidc.sim.metrics import dumps

RESULT, HTML = "result.json", "report.html"


def document(meta: dict[str, Any], runs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The result file's content: ``runs`` is ``(policy name, evaluate data)`` in order."""
    return {
        "aidc_version": __version__,
        "meta": meta,
        "policies": [{"name": name} | data for name, data in runs],
    }


def _h(seconds: float) -> str:
    return f"{seconds / 3600:,.2f} h"


def _s(seconds: float) -> str:
    return f"{seconds:,.1f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f} %"


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _by_type(s: dict[str, Any]) -> str:
    return ", ".join(f"{t} {v * 100:.1f} %" for t, v in sorted(s["utilisation_by_type"].items()))


# The side-by-side table: (row label, how to read it from a policy's summary).
ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("jobs completed", lambda s: f"{s['jobs_completed']:,}"),
    ("jobs unfinished", lambda s: f"{s['jobs_unfinished']:,}"),
    ("jobs skipped", lambda s: f"{s['jobs_skipped']:,}"),
    ("completion avg (s)", lambda s: _s(s["completion_s"]["avg"])),
    ("completion p50 (s)", lambda s: _s(s["completion_s"]["p50"])),
    ("completion p95 (s)", lambda s: _s(s["completion_s"]["p95"])),
    ("completion p99 (s)", lambda s: _s(s["completion_s"]["p99"])),
    ("queued avg (s)", lambda s: _s(s["queued_s"]["avg"])),
    ("queued p95 (s)", lambda s: _s(s["queued_s"]["p95"])),
    ("bounded slowdown avg", lambda s: _num(s["bounded_slowdown"]["avg"], 2)),
    ("bounded slowdown p95", lambda s: _num(s["bounded_slowdown"]["p95"], 2)),
    ("makespan", lambda s: _h(s["makespan_s"])),
    ("utilisation", lambda s: _pct(s["utilisation"])),
    ("utilisation by type", _by_type),
    ("useful accelerator-h", lambda s: f"{s['useful_accelerator_hours']:,.1f}"),
    ("lost accelerator-h", lambda s: f"{s['lost_accelerator_hours']:,.1f}"),
    ("preemptions", lambda s: f"{s['preemptions']:,}"),
    ("most jobs waiting", lambda s: f"{s['queue_length_max']:,.0f}"),
    ("Jain's index (share/entitled)", lambda s: _num(s["jain_index"])),
)


def comparison(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The side-by-side table as text: header (metric, then each policy) and rows."""
    policies = doc["policies"]
    header = ["metric", *(p["name"] for p in policies)]
    return header, [[label, *(read(p["summary"]) for p in policies)] for label, read in ROWS]


TENANT_COLUMNS = (
    "project",
    "jobs",
    "avg completion (s)",
    "avg queued (s)",
    "nominal",
    "received",
    "entitled",
    "ratio",
    "preemptions",
    "lost accelerator-h",
)


def tenant_rows(policy: dict[str, Any]) -> list[list[str]]:
    return [
        [
            t["project"],
            f"{t['jobs']:,}",
            _s(t["completion_s_avg"]),
            _s(t["queued_s_avg"]),
            f"{t['nominal_accelerators']:g}",
            _pct(t["received_share"]),
            _pct(t["entitled_share"]),
            _num(t["share_ratio"], 2),
            f"{t['preemptions']:,}",
            f"{t['lost_accelerator_s'] / 3600:,.2f}",
        ]
        for t in policy["tenants"]
    ]


def write(out: Path, doc: dict[str, Any]) -> list[Path]:
    """Write the result, the figures and the HTML report into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [_atomic(out / RESULT, dumps(doc).encode())]
    images: dict[str, bytes] = {}
    for name, (_, draw) in plots.FIGURES.items():
        images[name] = draw(doc["policies"])
        written.append(_atomic(out / name, images[name]))
    written.append(_atomic(out / HTML, render(doc, images).encode()))
    return written


def _atomic(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""


def _fact(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def render(doc: dict[str, Any], images: dict[str, bytes]) -> str:
    """The HTML report; every string from the trace or the options is escaped."""
    meta = doc["meta"]
    facts = [[k, _fact(v)] for k, v in sorted(meta.items()) if not isinstance(v, dict)]
    facts += [
        [f"{k}.{kk}", _fact(vv)]
        for k, v in sorted(meta.items())
        if isinstance(v, dict)
        for kk, vv in sorted(v.items())
    ]
    header, rows = comparison(doc)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>aidc simulation: {html.escape(str(meta.get('trace', '')))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>aidc simulation report</h1>",
        f"<p>aidc {html.escape(str(doc['aidc_version']))}. Definitions of every number: "
        "<code>docs/simulator.md</code>.</p>",
        "<h2>Run</h2>",
        _table(["setting", "value"], facts),
        "<h2>Policies side by side</h2>",
        _table(header, rows),
    ]
    for name, (title, _) in plots.FIGURES.items():
        data = base64.b64encode(images[name]).decode()
        parts += [
            f"<h2>{html.escape(title)}</h2>",
            f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">',
        ]
    for policy in doc["policies"]:
        parts += [
            f"<h2>Per tenant: {html.escape(policy['name'])}</h2>",
            _table(TENANT_COLUMNS, tenant_rows(policy)),
        ]
    parts.append("</body></html>\n")
    return "\n".join(parts)
