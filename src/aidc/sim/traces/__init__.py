"""Trace loaders: each reads one trace format as a stream of ``SimJob``s.

A loader reads its file row by row (a JSON list element by element) and yields jobs as it
goes (a trace is never held twice), mapping the trace's tenant to a project. Sizes become
requests on the cluster's ``NodeShape``: a job asking more accelerators than one node has
becomes a gang of whole nodes. What the scheduler is told about run time comes from a
``LimitModel``. A row that is no job to replay is skipped and counted in the ``LoadReport``
passed as ``report=``; a row that cannot be read stops the load with a ``TraceError``.
Each module's docstring states its format's choices (durations, skips, tenants).

``FORMATS`` maps the format names the CLI takes to loaders.
"""

from __future__ import annotations

from aidc.sim.traces.alibaba import alibaba_gpu2023, alibaba_pai2020
from aidc.sim.traces.common import Loader, LoadReport, NodeShape, TraceError
from aidc.sim.traces.helios import helios
from aidc.sim.traces.history import aidc_history
from aidc.sim.traces.philly import philly_csv, philly_json
from aidc.sim.traces.tiresias import tiresias

FORMATS: dict[str, Loader] = {
    "tiresias": tiresias,
    "philly-csv": philly_csv,
    "philly-json": philly_json,
    "helios": helios,
    "alibaba-pai2020": alibaba_pai2020,
    "alibaba-gpu2023": alibaba_gpu2023,
    "aidc-history": aidc_history,
}

__all__ = [
    "FORMATS",
    "LoadReport",
    "Loader",
    "NodeShape",
    "TraceError",
    "aidc_history",
    "alibaba_gpu2023",
    "alibaba_pai2020",
    "helios",
    "philly_csv",
    "philly_json",
    "tiresias",
]
