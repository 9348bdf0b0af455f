"""Each tenant's share of the cluster against what it was entitled to, and Jain's index.

Definitions (docs/simulator.md, "Fairness"):

- ``C``: the cluster's accelerators, all types together.
- A project's demand at ``t``, ``d_p(t)``: the accelerators of its jobs submitted and not yet
  ended (waiting or running). Its demand time ``D_p``: how long ``d_p > 0``.
- Its entitlement at ``t``, ``e_p(t)``: what an ideal, work-conserving and perfectly
  divisible fair scheduler would give it. First each project with demand gets its nominal
  accelerator quota as far as it asks (``g_p = min(nominal_p, d_p)``; scaled down together
  if the nominal quotas add up to more than ``C``). The rest of the cluster (the unguaranteed
  remainder and idle quota) is water-filled over the projects' remaining demand in
  proportion to their fair-share weights (``QuotaNode.shares``, 1 by default): max-min fair,
  so no project is entitled to more than it asks.
- Received: the accelerator-seconds its runs held (preempted runs too: it held them).
- ``received_share = received / (C x D_p)``, ``entitled_share = ∫e_p / (C x D_p)``: its mean
  part of the cluster while it had demand, got and due. ``share_ratio = received / ∫e_p``
  (1: exactly its due; above 1: it got idle capacity others did not ask for or were denied).
- Jain's index over the share ratios of the projects with an entitlement:
  ``(Σx)² / (n Σx²)``; 1 when every project got the same fraction of its due.

Only completed jobs count to demand (a run stopped at ``until`` leaves the others out; the
runs cut there count to what their projects received), and
jobs are treated as divisible, so a perfect scheduler of whole gangs can still score below 1.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aidc.scheduler import Quotas
from aidc.scheduler.snapshot import CPUS, MEMORY
from aidc.sim.driver import JobOutcome, RunRecord

EPSILON = 1e-9


def nominal_accelerators(quotas: Quotas) -> dict[str, float]:
    """Each project's nominal quota of accelerators (all types together)."""
    return {
        q.name: sum(lim.nominal for r, lim in q.limits.items() if r not in (CPUS, MEMORY))
        for q in quotas.projects
    }


def entitle(
    demand: Mapping[str, float],
    nominal: Mapping[str, float],
    weights: Mapping[str, float],
    total: float,
) -> dict[str, float]:
    """The entitlement of each project with ``demand`` at one instant (see the module)."""
    if sum(demand.values()) <= total:
        return {p: d for p, d in demand.items() if d > 0}  # room for all it asks
    got = {p: min(nominal.get(p, 0.0), d) for p, d in demand.items() if d > 0}
    guaranteed = sum(got.values())
    if guaranteed > total:
        got = {p: g * total / guaranteed for p, g in got.items()}
    rest = total - sum(got.values())
    want = {p: demand[p] - g for p, g in got.items() if demand[p] - g > EPSILON}
    while want and rest > EPSILON:
        level = rest / sum(weights.get(p, 1.0) for p in want)
        full = [p for p in sorted(want) if want[p] <= weights.get(p, 1.0) * level + EPSILON]
        if not full:
            for p in want:
                got[p] += weights.get(p, 1.0) * level
            break
        for p in full:
            got[p] += want[p]
            rest -= want.pop(p)
    return got


@dataclass(frozen=True, slots=True)
class Tenant:
    project: str
    jobs: int
    completion_s_avg: float
    queued_s_avg: float
    preemptions: int
    nominal_accelerators: float
    demand_s: float
    received_accelerator_s: float
    lost_accelerator_s: float
    entitled_accelerator_s: float
    received_share: float
    entitled_share: float
    share_ratio: float | None  # None: it was entitled to nothing


def tenants(
    jobs: Sequence[JobOutcome], runs: Sequence[RunRecord], quotas: Quotas, total: int
) -> list[Tenant]:
    """One row per project that ran or asked, sorted by name."""
    nominal = nominal_accelerators(quotas)
    weights = {q.name: q.shares for q in quotas.projects}
    changes: dict[float, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for j in jobs:
        changes[j.submitted_at][j.project] += j.accelerators
        changes[j.ended_at][j.project] -= j.accelerators
    demand: dict[str, float] = defaultdict(float)
    demand_s: dict[str, float] = defaultdict(float)
    entitled: dict[str, float] = defaultdict(float)
    times = sorted(changes)
    for t, nxt in itertools.pairwise(times):
        for p, delta in changes[t].items():
            demand[p] += delta
        active = {p: d for p, d in demand.items() if d > EPSILON}
        if not active:
            continue
        for p, e in entitle(active, nominal, weights, total).items():
            entitled[p] += e * (nxt - t)
            demand_s[p] += nxt - t
    received: dict[str, float] = defaultdict(float)
    lost: dict[str, float] = defaultdict(float)
    for r in runs:
        held = r.accelerators * (r.ended_at - r.started_at)
        received[r.project] += held
        if not r.completed and not r.cut:
            lost[r.project] += held
    mine: dict[str, list[JobOutcome]] = defaultdict(list)
    for j in jobs:
        mine[j.project].append(j)
    rows = []
    for p in sorted(set(mine) | set(received)):
        js = mine.get(p, [])
        seen = total * demand_s[p]
        rows.append(
            Tenant(
                project=p,
                jobs=len(js),
                completion_s_avg=sum(j.completion_s for j in js) / len(js) if js else 0.0,
                queued_s_avg=sum(j.queued_s for j in js) / len(js) if js else 0.0,
                preemptions=sum(j.preemptions for j in js),
                nominal_accelerators=nominal.get(p, 0.0),
                demand_s=demand_s[p],
                received_accelerator_s=received[p],
                lost_accelerator_s=lost[p],
                entitled_accelerator_s=entitled[p],
                received_share=received[p] / seen if seen else 0.0,
                entitled_share=entitled[p] / seen if seen else 0.0,
                share_ratio=received[p] / entitled[p] if entitled[p] > EPSILON else None,
            )
        )
    return rows


def jain(values: Sequence[float]) -> float | None:
    """Jain's fairness index ``(Σx)² / (n Σx²)``: 1 for equal values, 1/n for one taking all
    (None for no values; 1 when all are 0)."""
    if not values:
        return None
    squares = sum(v * v for v in values)
    return sum(values) ** 2 / (len(values) * squares) if squares else 1.0


def jain_of(rows: Sequence[Tenant]) -> float | None:
    return jain([r.share_ratio for r in rows if r.share_ratio is not None])
