"""One experiment: a trace on a cluster under one or more policies, with what-if options.

Shared by ``aidc simulate`` and the API: ``prepare`` checks every option (an
``OptionError`` names the option and the fix), ``run`` simulates each policy on the same
jobs and returns the report document (``report.document``).

What-if options:

- ``add_nodes``: ``COUNTxTYPE:POOL`` or ``COUNTxTYPExGPUS:POOL`` (``64xh100:cloud``,
  ``16xa100x4:hpc``): COUNT more nodes of GPUS accelerators of TYPE each (default: the
  cluster's node size), cpus and memory in the cluster shape's proportion. Jobs ask for the
  cluster's accelerator type, so nodes of another type serve only a shape that accepts any.
- ``scale_load``: arrivals ``factor`` times as dense: a submit time ``t`` becomes
  ``t0 + (t - t0) / factor``, ``t0`` being the trace's earliest submission (durations stay).
- ``until``: stop this many seconds after ``t0``.

The trace is read once to count its jobs and find ``t0`` (a progress bar's total), then once
per policy: loaders stream, so no trace is ever held in memory.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aidc.core import accelerators
from aidc.core.policy import Policy
from aidc.core.resources import Node
from aidc.sim.driver import SimJob, simulate
from aidc.sim.limits import LimitModel
from aidc.sim.metrics import evaluate
from aidc.sim.report import document
from aidc.sim.sources import FORMATS, LoadReport, SimCluster, TraceError
from aidc.sim.timeline import capacity

MAX_ADDED_NODES = 100_000
_ADD = re.compile(
    r"^(?P<count>\d+)x(?P<type>[a-z0-9][a-z0-9_-]*?)(?:x(?P<per>\d+))?:(?P<pool>[a-z0-9][a-z0-9_-]*)$"
)


class OptionError(ValueError):
    """An option the experiment cannot use: ``option`` names it, the message says why."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


@dataclass(frozen=True, slots=True)
class Setup:
    trace: Path
    format: str
    cluster: SimCluster
    policies: Sequence[tuple[str, Policy]]
    seed: int = 0
    oracle: bool = False
    median_factor: float = 3.0
    sigma: float = 1.0
    add_nodes: Sequence[str] = ()
    scale_load: float = 1.0
    until_s: float | None = None
    points: int = 500
    # How the trace is named in the result (the API names it relative to its directory).
    trace_label: str | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    setup: Setup
    nodes: tuple[Node, ...]
    limits: LimitModel
    jobs: int
    start_s: float
    notes: tuple[str, ...] = ()
    # Rows of the trace the loader left out, or changed, by reason (its LoadReport).
    skipped_rows: dict[str, int] = field(default_factory=dict)
    adjusted_rows: dict[str, int] = field(default_factory=dict)

    def trace(self) -> Iterator[SimJob]:
        """The trace's jobs, arrivals scaled, read afresh."""
        s = self.setup
        jobs = FORMATS[s.format](s.trace, s.cluster.shape, self.limits)
        if s.scale_load == 1:
            yield from jobs
            return
        for j in jobs:
            at = self.start_s + (j.submitted_at - self.start_s) / s.scale_load
            yield SimJob(
                j.job_id,
                at,
                j.duration_s,
                j.request,
                j.project,
                j.priority_class,
                j.time_limit_s,
            )


def parse_add_nodes(spec: str, cluster: SimCluster, index: int) -> tuple[Node, ...]:
    """The nodes one ``--add-nodes`` value adds (see the module)."""
    m = _ADD.match(spec.strip().lower())
    if m is None:
        raise OptionError(
            "--add-nodes",
            f"{spec!r} is not COUNTxTYPE:POOL or COUNTxTYPExGPUS:POOL (e.g. 64xh100:cloud, "
            "16xa100x4:hpc)",
        )
    count, kind, pool = int(m["count"]), m["type"], m["pool"]
    shape = cluster.shape
    per = int(m["per"]) if m["per"] else shape.accelerators
    if not 1 <= count <= MAX_ADDED_NODES:
        raise OptionError("--add-nodes", f"{spec!r}: COUNT must be 1 to {MAX_ADDED_NODES}")
    if not 1 <= per <= 64:
        raise OptionError("--add-nodes", f"{spec!r}: GPUS per node must be 1 to 64")
    try:
        accelerators.get(kind)
    except KeyError as e:
        raise OptionError("--add-nodes", f"{spec!r}: {e.args[0]}") from None
    return tuple(
        Node(
            f"add{index}-{pool}-{kind}-{i}",
            pool,
            max(1, per * shape.cpus_per_accelerator),
            max(1024, per * shape.memory_mib_per_accelerator),
            kind,
            tuple(range(per)),
            {"pool": pool, "rack": f"add{index}-{pool}-r{i // 32}"},
        )
        for i in range(count)
    )


def check(setup: Setup) -> tuple[tuple[Node, ...], tuple[str, ...]]:
    """Every option but the trace's content: the nodes (with those added) and notes."""
    s = setup
    if s.format not in FORMATS:
        raise OptionError(
            "--format", f"unknown format {s.format!r}; use one of {', '.join(FORMATS)}"
        )
    if not s.policies:
        raise OptionError("--policy", "give at least one policy")
    names = [n for n, _ in s.policies]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise OptionError("--policy", f"{dup!r} is given twice; give each policy once")
    if not (s.median_factor >= 1 and math.isfinite(s.median_factor)):
        raise OptionError("--limit-median", f"must be 1 or more (got {s.median_factor:g})")
    if not (0 <= s.sigma <= 5):
        raise OptionError("--limit-sigma", f"must be 0 to 5 (got {s.sigma:g})")
    if not (0 < s.scale_load <= 1000 and math.isfinite(s.scale_load)):
        raise OptionError(
            "--scale-load", f"must be above 0 and at most 1000 (got {s.scale_load:g})"
        )
    if s.until_s is not None and not s.until_s > 0:
        raise OptionError("--until", f"must be after the start (got {s.until_s:g} s)")
    if not 1 <= s.points <= 5000:
        raise OptionError("--points", f"must be 1 to 5000 (got {s.points})")
    nodes = tuple(s.cluster.nodes)
    notes: list[str] = []
    for i, spec in enumerate(s.add_nodes):
        added = parse_add_nodes(spec, s.cluster, i)
        kind = added[0].accelerator_type
        if s.cluster.shape.accelerator_type not in ("", kind):
            notes.append(
                f"--add-nodes {spec}: the trace's jobs ask for "
                f"{s.cluster.shape.accelerator_type}, so these {kind} nodes stay idle"
            )
        nodes += added
    return nodes, tuple(notes)


def prepare(setup: Setup) -> Prepared:
    """Check every option and read the trace once (count, earliest submission)."""
    s = setup
    nodes, notes = check(s)
    if not s.trace.is_file():
        raise OptionError("--trace", f"{s.trace_label or s.trace}: no such file")
    limits = LimitModel(seed=s.seed, median_factor=s.median_factor, sigma=s.sigma, oracle=s.oracle)
    count, start = 0, math.inf
    loaded = LoadReport()
    try:
        for j in FORMATS[s.format](s.trace, s.cluster.shape, limits, report=loaded):
            count += 1
            start = min(start, j.submitted_at)
    except TraceError as e:
        raise OptionError("--trace", str(e)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise OptionError("--trace", f"cannot read {s.trace_label or s.trace}: {e}") from None
    skipped = {reason: n for reason, n in sorted(loaded.skipped.items())}
    adjusted = {reason: n for reason, n in sorted(loaded.adjusted.items())}
    return Prepared(
        s, nodes, limits, count, start if count else 0.0, tuple(notes), skipped, adjusted
    )


Progress = Callable[[str, float, int], None]  # (policy, simulated seconds, jobs done)


def run(p: Prepared, progress: Progress | None = None) -> dict[str, Any]:
    """Simulate every policy on the same jobs; the report document."""
    s = p.setup
    cap = capacity(p.nodes)
    until = math.inf if s.until_s is None else p.start_s + s.until_s
    runs = []
    for name, policy in s.policies:

        def tick(now: float, done: int, name: str = name) -> None:
            if progress is not None:
                progress(name, now - p.start_s, done)

        result = simulate(
            p.nodes, p.trace(), policy, quotas=s.cluster.quotas, until=until, progress=tick
        )
        if progress is not None:
            progress(name, result.makespan_s, len(result.jobs))
        runs.append((name, evaluate(result, cap, s.cluster.quotas, s.points)))
    return document(meta(p), runs)


def meta(p: Prepared) -> dict[str, Any]:
    """What the run was: every input that decides the numbers, and nothing else."""
    s = p.setup
    return {
        "trace": s.trace_label or str(s.trace),
        "format": s.format,
        "jobs_in_trace": p.jobs,
        "rows_skipped": p.skipped_rows,
        "rows_adjusted": p.adjusted_rows,
        "cluster": {
            "name": s.cluster.name,
            "nodes": len(p.nodes),
            "accelerators": sum(capacity(p.nodes).values()),
            "by_type": ", ".join(f"{n} {t}" for t, n in capacity(p.nodes).items()),
            "job_shape": f"{s.cluster.shape.accelerators}x{s.cluster.shape.accelerator_type}",
        },
        "policies": [n for n, _ in s.policies],
        "seed": s.seed,
        "limits": {
            "oracle": s.oracle,
            "median_factor": s.median_factor,
            "sigma": s.sigma,
        },
        "add_nodes": list(s.add_nodes),
        "scale_load": s.scale_load,
        "until_s": s.until_s,
        "points": s.points,
        "notes": list(p.notes),
    }
