"""Use and queue length over time, as step functions worked out from a run's records.

A step function is a sorted list of breakpoints ``(t, level)``: the level holds from ``t``
until the next breakpoint (before the first it is 0; the last is usually 0 again). Levels are
sums of integer changes (accelerators, jobs), so they are exact. ``resample`` turns one into a
fixed number of equal bins, each the time-weighted average of the level over the bin: what a
plot or a JSON file can carry, with the integral kept (bin average x bin width, summed).

Derived from ``SimResult`` only:

- allocation of one accelerator type: every run (preempted ones too) adds its accelerators
  from its start to its end;
- queue length: a job waits from its submission to its first run's start, and from each
  preempted run's end to its next run's start. When a run stops at ``until``, the runs
  still going are recorded up to the stop (``RunRecord.cut``), so allocation is exact to
  the stop; a job that never started by then is not counted as waiting (only completed
  jobs carry their submit time).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aidc.core.resources import Node
from aidc.sim.driver import RunRecord, SimResult

Step = list[tuple[float, float]]


def step(changes: Iterable[tuple[float, float]]) -> Step:
    """The step function of a sum of changes ``(t, delta)``; equal times merged, and a
    breakpoint only where the level changes."""
    at: dict[float, float] = defaultdict(float)
    for t, delta in changes:
        at[t] += delta
    level = 0.0
    out: Step = []
    for t in sorted(at):
        level += at[t]
        if (out and out[-1][1] == level) or (not out and level == 0):
            continue
        out.append((t, level))
    return out


def integral(s: Step, start: float, end: float) -> float:
    """The area under ``s`` over ``[start, end]``."""
    total = 0.0
    for i, (t, level) in enumerate(s):
        nxt = s[i + 1][0] if i + 1 < len(s) else end
        lo, hi = max(t, start), min(nxt, end)
        if hi > lo:
            total += level * (hi - lo)
    return total


def resample(s: Step, start: float, end: float, points: int) -> list[float]:
    """``points`` equal bins over ``[start, end]``, each the time-weighted average of ``s``
    over the bin (empty for an empty span)."""
    if points < 1:
        raise ValueError(f"points must be 1 or more (got {points})")
    if end <= start:
        return []
    width = (end - start) / points
    area = [0.0] * points
    for i, (t, level) in enumerate(s):
        nxt = s[i + 1][0] if i + 1 < len(s) else end
        lo, hi = max(t, start), min(nxt, end)
        if hi <= lo or level == 0:
            continue
        first = min(points - 1, int((lo - start) / width))
        last = min(points - 1, int((hi - start) / width))
        for b in range(first, last + 1):
            b_lo = start + b * width
            b_hi = end if b == points - 1 else b_lo + width
            overlap = min(hi, b_hi) - max(lo, b_lo)
            if overlap > 0:
                area[b] += level * overlap
    return [a / width for a in area]


def capacity(nodes: Iterable[Node]) -> dict[str, int]:
    """Accelerators per type (types with none left out)."""
    out: dict[str, int] = defaultdict(int)
    for n in nodes:
        if n.devices:
            out[n.accelerator_type] += len(n.devices)
    return dict(sorted(out.items()))


def allocation(runs: Iterable[RunRecord]) -> dict[str, Step]:
    """Accelerators held over time, per accelerator type."""
    changes: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in runs:
        changes[r.accelerator_type] += [
            (r.started_at, r.accelerators),
            (r.ended_at, -r.accelerators),
        ]
    return {t: step(c) for t, c in sorted(changes.items())}


def by_project(runs: Iterable[RunRecord]) -> dict[str, Step]:
    """Accelerators held over time, per project (all types together)."""
    changes: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in runs:
        changes[r.project] += [(r.started_at, r.accelerators), (r.ended_at, -r.accelerators)]
    return {p: step(c) for p, c in sorted(changes.items())}


def waits(result: SimResult) -> list[tuple[str, float, float]]:
    """Every interval a job spent waiting: ``(job id, from, to)``."""
    submitted = {j.job_id: j.submitted_at for j in result.jobs}
    runs: dict[str, list[RunRecord]] = defaultdict(list)
    for r in result.runs:
        runs[r.job_id].append(r)
    out: list[tuple[str, float, float]] = []
    for job_id in sorted(runs):
        mine = sorted(runs[job_id], key=lambda r: (r.started_at, r.ended_at))
        if job_id in submitted:
            out.append((job_id, submitted[job_id], mine[0].started_at))
        out += [(job_id, a.ended_at, b.started_at) for a, b in itertools.pairwise(mine)]
    return [w for w in out if w[2] > w[1]]


def queue_length(result: SimResult) -> Step:
    """Jobs waiting over time."""
    changes: list[tuple[float, float]] = []
    for _, lo, hi in waits(result):
        changes += [(lo, 1), (hi, -1)]
    return step(changes)


@dataclass(frozen=True, slots=True)
class Span:
    """The stretch of virtual time a run covers: its first submission (or start) to its
    last run's end."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def span(result: SimResult) -> Span:
    starts = [j.submitted_at for j in result.jobs] + [r.started_at for r in result.runs]
    ends = [r.ended_at for r in result.runs]
    if not starts or not ends:
        return Span(0.0, 0.0)
    return Span(min(starts), max(ends))


def series(
    result: SimResult,
    cap: Mapping[str, int],
    points: int = 500,
    held: Mapping[str, Step] | None = None,
    queue: Step | None = None,
) -> dict[str, Sequence[float] | dict[str, list[float]] | float]:
    """The resampled series for plots and JSON: bin starts (seconds from the span's start),
    utilisation (allocated / capacity) per accelerator type, and queue length. ``held`` and
    ``queue``: ``allocation`` and ``queue_length`` when the caller has them already."""
    sp = span(result)
    held = allocation(result.runs) if held is None else held
    queue = queue_length(result) if queue is None else queue
    n = points if sp.length > 0 else 0
    width = sp.length / n if n else 0.0
    return {
        "start_s": sp.start,
        "bin_s": width,
        "t_s": [i * width for i in range(n)],
        "utilisation": {
            t: [v / c for v in resample(held.get(t, []), sp.start, sp.end, n)] if n else []
            for t, c in cap.items()
            if c
        },
        "queue_length": resample(queue, sp.start, sp.end, n) if n else [],
    }
