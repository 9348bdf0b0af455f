"""The scheduler scale benchmark's scenario, generated from a seeded ``random.Random``.

* nodes: half h100, two fifths a100 (pool ``gpu``), a tenth rngd NPUs (pool ``npu``), 8
  devices each, one hardware generation (cpus, memory) per rack of 32 nodes, ``rack`` label;
* quotas: 4 programs > 20 organisations (cohorts) > 200 projects; nominal h100/a100/rngd
  quota summing to about 95 % of capacity, some projects with a borrowing or a lending
  limit, shares 1-4, decayed usage per project;
* a queue of Philly-like jobs: 75 % one accelerator, 20 % 2/4/8 on one node, 5 % gangs of
  2-8 nodes x 8; mostly one type, some "a100 or h100", 5 % rngd; normal, opportunistic and
  interactive classes; time limits from 10 minutes to 3 days; submitted over the past day.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aidc.core.resources import Node, Request
from aidc.scheduler import PendingJob, QuotaLimit, QuotaNode, Quotas

GIB = 1024
# 2026-11-25T00:00:00Z: "now" of the scenario; jobs were submitted during the day before.
NOW = 1_795_564_800.0
DEVICES_PER_NODE = 8
NODES_PER_RACK = 32
# Per accelerator: (cpus, memory GiB). A node has 8 devices and at least 64 cpus / 1 TiB.
PER_DEVICE = {"h100": (8, 64), "a100": (8, 64), "rngd": (4, 32)}
# Hardware generations, one per rack: (cpus, memory GiB).
HARDWARE = {
    "h100": ((112, 2048), (128, 2048)),
    "a100": ((64, 1024), (128, 1024), (96, 1536)),
    "rngd": ((64, 1024), (96, 1024)),
}
# Time limits in seconds and their weights: 10 minutes to 3 days (None: the class default).
TIME_LIMITS = (
    (600, 10),
    (1800, 10),
    (3600, 14),
    (2 * 3600, 10),
    (4 * 3600, 10),
    (8 * 3600, 9),
    (12 * 3600, 7),
    (24 * 3600, 10),
    (48 * 3600, 6),
    (72 * 3600, 4),
    (None, 10),
)


@dataclass(frozen=True, slots=True)
class Scenario:
    nodes: tuple[Node, ...]
    quotas: Quotas
    usage: dict[str, float]
    queue: tuple[PendingJob, ...]
    pool_engines: dict[str, str]
    projects_by_limit: dict[str, int]


def node_counts(total: int) -> dict[str, int]:
    h100 = total // 2
    a100 = total * 2 // 5
    return {"h100": h100, "a100": a100, "rngd": total - h100 - a100}


def make_nodes(rng: random.Random, total: int) -> tuple[Node, ...]:
    nodes: list[Node] = []
    rack_no = {"gpu": 0, "npu": 0}
    for kind, count in node_counts(total).items():
        pool = "npu" if kind == "rngd" else "gpu"
        prefix = "n" if pool == "npu" else "r"
        cpus, mem = HARDWARE[kind][0]
        for i in range(count):
            if i % NODES_PER_RACK == 0:
                rack = f"{prefix}{rack_no[pool]:02d}"
                rack_no[pool] += 1
                cpus, mem = rng.choice(HARDWARE[kind])
            nodes.append(
                Node(
                    f"{kind}-{i + 1:04d}",
                    pool,
                    cpus,
                    mem * GIB,
                    kind,
                    tuple(range(DEVICES_PER_NODE)),
                    {"rack": rack},
                )
            )
    return tuple(nodes)


def make_quotas(
    rng: random.Random, nodes: tuple[Node, ...], projects: int
) -> tuple[Quotas, dict[str, float], dict[str, float], dict[str, str], dict[str, int]]:
    """The cohort tree, decayed usage, each project's submission weight and main GPU type,
    and how many projects have which kind of limit."""
    capacity = Counter[str]()
    for n in nodes:
        capacity[n.accelerator_type] += n.accelerator_count
    programs = [f"prog-{i}" for i in range(1, 5)]
    orgs = [f"org-{i:02d}" for i in range(1, 21)]
    names = [f"p-{i:03d}" for i in range(1, projects + 1)]
    org_of = {p: orgs[i * len(orgs) // len(names)] for i, p in enumerate(names)}
    # Project size: lognormal, so a few projects hold much of the quota (as in practice).
    size = {p: rng.lognormvariate(0, 1) for p in names}
    main = {p: rng.choice(("h100", "h100", "a100")) for p in names}
    has: dict[str, set[str]] = {}
    for p in names:
        types = {main[p]}
        if rng.random() < 0.5:
            types.add("a100" if main[p] == "h100" else "h100")
        if rng.random() < 0.25:
            types.add("rngd")
        has[p] = types
    nominal: dict[str, dict[str, float]] = {p: {} for p in names}
    for t, cap in capacity.items():
        holders = [p for p in names if t in has[p]]
        weight = sum(size[p] for p in holders)
        for p in holders:
            nominal[p][t] = float(max(1, round(0.95 * cap * size[p] / weight)))
    kinds = Counter[str]()
    leaves: list[QuotaNode] = []
    for p in names:
        limits: dict[str, QuotaLimit] = {}
        r = rng.random()
        kind = "borrowing_limited" if r < 0.25 else "lending_limited" if r < 0.45 else "plain"
        kinds[kind] += 1
        for t, amount in nominal[p].items():
            if kind == "borrowing_limited":
                borrow = float(round(amount * rng.choice((0, 0.5, 1))))
                limits[t] = QuotaLimit(amount, borrowing_limit=borrow)
            elif kind == "lending_limited":  # keeps part of its quota for itself
                lend = float(round(amount * rng.choice((0, 0.25, 0.5))))
                limits[t] = QuotaLimit(amount, lending_limit=lend)
            else:
                limits[t] = QuotaLimit(amount)
        leaves.append(QuotaNode(p, org_of[p], limits, float(rng.randint(1, 4))))
    cohorts = [QuotaNode(p, None) for p in programs]
    for i, org in enumerate(orgs):
        limits = {}
        if i % 5 == 0:
            # One organisation in five may borrow at most half its own h100 quota again.
            own = sum(nominal[p].get("h100", 0.0) for p in names if org_of[p] == org)
            limits["h100"] = QuotaLimit(0.0, borrowing_limit=float(round(own / 2)))
            kinds["orgs_borrowing_limited"] += 1
        cohorts.append(QuotaNode(org, programs[i * len(programs) // len(orgs)], limits))
    # Decayed billing-weighted accelerator-seconds: up to 1.4 times the project's nominal
    # quota held for a week; one project in ten has used nothing lately.
    usage: dict[str, float] = {}
    for p in names:
        if rng.random() < 0.1:
            continue
        held = sum(nominal[p].values())
        usage[p] = round(held * rng.uniform(0.0, 2.0) * 7 * 86400 * 0.7, 1)
    return Quotas(tuple(cohorts), tuple(leaves)), usage, size, main, dict(kinds)


def make_queue(
    rng: random.Random, jobs: int, size: dict[str, float], main: dict[str, str]
) -> tuple[PendingJob, ...]:
    projects = sorted(size)
    weights = [size[p] for p in projects]
    limits = [t for t, _ in TIME_LIMITS]
    limit_w = [w for _, w in TIME_LIMITS]
    drafts: list[tuple[float, str, Request, str, float | None, bool]] = []
    requests: dict[tuple[object, ...], Request] = {}
    for _ in range(jobs):
        project = rng.choices(projects, weights)[0]
        r = rng.random()
        if r < 0.75:
            nodes, per_node = 1, 1
        elif r < 0.95:
            nodes, per_node = 1, rng.choices((2, 4, 8), (45, 30, 25))[0]
        else:
            nodes, per_node = rng.choices((2, 3, 4, 6, 8), (35, 10, 30, 5, 20))[0], 8
        r = rng.random()
        if r < 0.05:
            types: tuple[str, ...] = ("rngd",)
        elif r < 0.25:
            types = ("a100", "h100")
        elif r < 0.85:
            types = (main[project],)
        else:
            types = ("a100",) if main[project] == "h100" else ("h100",)
        r = rng.random()
        cls = "opportunistic" if r < 0.10 else "interactive" if r < 0.15 else "normal"
        limit = rng.choices(limits, limit_w)[0]
        if cls == "interactive":
            # Interactive sessions: one node, at most a working day.
            nodes = 1
            limit = None if limit is None else min(limit, 8 * 3600)
        cpus, mem = PER_DEVICE[types[0] if len(types) == 1 else "h100"]
        key = (nodes, per_node, types)
        req = requests.get(key)
        if req is None:
            req = requests[key] = Request(
                nodes, cpus * per_node, mem * GIB * per_node, per_node, types
            )
        same_rack = nodes > 1 and rng.random() < 0.2
        drafts.append((NOW - rng.uniform(0, 86400), project, req, cls, limit, same_rack))
    drafts.sort(key=lambda d: d[0])
    return tuple(
        PendingJob(
            f"j{seq:06d}",
            req,
            round(at, 3),
            project,
            seq,
            cls,
            time_limit_s=None if limit is None else float(limit),
            same_rack=same_rack,
        )
        for seq, (at, project, req, cls, limit, same_rack) in enumerate(drafts, 1)
    )


def generate(seed: int, nodes: int, jobs: int, projects: int) -> Scenario:
    rng = random.Random(seed)
    inventory = make_nodes(rng, nodes)
    quotas, usage, size, main, kinds = make_quotas(rng, inventory, projects)
    queue = make_queue(rng, jobs, size, main)
    return Scenario(inventory, quotas, usage, queue, {"gpu": "slurm", "npu": "slurm"}, kinds)


def describe(sc: Scenario, generate_s: float) -> dict[str, Any]:
    devices = Counter[str]()
    for n in sc.nodes:
        devices[n.accelerator_type] += n.accelerator_count
    size = Counter[str]()
    types = Counter[str]()
    classes = Counter[str]()
    demand = 0
    for j in sc.queue:
        req = j.request
        asked = req.nodes * req.accelerators
        demand += asked
        size["1" if asked == 1 else "2-8 one node" if req.nodes == 1 else "16-64 gang"] += 1
        types[",".join(req.accelerator_types)] += 1
        classes[j.priority_class] += 1
    return {
        "generate_s": round(generate_s, 2),
        "nodes": len(sc.nodes),
        "nodes_by_type": dict(Counter(n.accelerator_type for n in sc.nodes)),
        "devices_by_type": dict(devices),
        "racks": len({(n.pool, n.labels["rack"]) for n in sc.nodes}),
        "cohorts": len(sc.quotas.cohorts),
        "projects": len(sc.quotas.projects),
        "projects_by_limit": sc.projects_by_limit,
        "nominal_over_capacity": {
            t: round(sum(p.limits[t].nominal for p in sc.quotas.projects if t in p.limits) / cap, 3)
            for t, cap in devices.items()
        },
        "jobs": len(sc.queue),
        "jobs_by_size": dict(size),
        "jobs_by_types": dict(types),
        "jobs_by_class": dict(classes),
        "gangs_same_rack": sum(1 for j in sc.queue if j.same_rack),
        "distinct_requests": len({j.request for j in sc.queue}),
        "accelerators_asked": demand,
        "accelerators_asked_over_capacity": round(demand / sum(devices.values()), 2),
    }
