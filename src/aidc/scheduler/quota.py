"""Quota: nominal, borrowing and lending limits in a cohort tree (Kueue's model).

Every project is a leaf under a cohort (its organisation), cohorts nest (programs), and an
implicit root holds the capacity no one has nominal quota for. For one resource:

- ``Lendable(X)``: what X's subtree offers its parent: min(lending limit, N(X) + sum of the
  children's lendable) (for a project, min(lending limit, nominal)).
- ``Reserved(X)``: the part of X's own pool kept for X's subtree: N(X) + sum of children's
  lendable - Lendable(X).
- ``D(X)``: what X's subtree draws from its parent's pool: for a project max(0, U - Reserved),
  for a cohort max(0, sum of children's D - Reserved).
- Admission requires the root's children to draw no more than the root's pool, and every
  node on the way up to use no more than its subtree quota plus its borrowing limit.

So a project always gets its nominal quota (others' borrowing of it is reclaimable), may
borrow idle quota of its cohort and the cohorts above it, and never takes what a lending
limit keeps back. Charges are recomputed along the project's path after every admission in a
pass, so simultaneous admissions can never over-borrow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from aidc.core.resources import Node, NodeState, Placement, Request
from aidc.scheduler.snapshot import CPUS, MEMORY, QuotaLimit, Quotas

ROOT = "c:"

Charges = dict[str, float]


def charges_for(req: Request, accelerator_type: str) -> Charges:
    """What a job of ``req`` on ``accelerator_type`` nodes counts against quota."""
    out: Charges = {CPUS: req.nodes * req.cpus, MEMORY: req.nodes * req.memory_mib}
    if req.accelerators:
        out[accelerator_type] = req.nodes * req.accelerators
    # In name order: quota checks go through a job's resources in this order (so the one a
    # miss names does not depend on how the dict was built).
    return dict(sorted(out.items()))


def placement_charges(p: Placement) -> Charges:
    out: Charges = {}
    add_placement_charges(out, p)
    return out


def add_placement_charges(out: Charges, p: Placement) -> None:
    """Add what ``p`` counts against quota to ``out``."""
    for n in p.nodes:
        out[CPUS] = out.get(CPUS, 0) + n.cpus
        out[MEMORY] = out.get(MEMORY, 0) + n.memory_mib
        if n.devices:
            out[n.accelerator_type] = out.get(n.accelerator_type, 0) + len(n.devices)


@dataclass(frozen=True)
class QuotaMiss:
    """Why a project cannot take ``asked`` of ``resource`` now."""

    project: str
    resource: str
    asked: float
    available: float
    used: float
    nominal: float
    # What bound it: "nominal" (class may not borrow), "borrowing_limit" of a node, "cohort".
    bound: str
    where: str

    @cached_property
    def message(self) -> str:
        unit = "" if self.resource not in (MEMORY,) else " MiB"
        head = (
            f"project {self.project}: {self.resource} quota {_n(self.used)}/"
            f"{_n(self.nominal)}{unit} used, asks {_n(self.asked)}"
        )
        if self.bound == "nominal":
            return f"{head}; interactive jobs run within nominal quota only"
        if self.bound == "borrowing_limit":
            return f"{head}; {self.where} may borrow no more (borrowing limit reached)"
        lend = max(0.0, self.available - max(0.0, self.nominal - self.used))
        return f"{head}; cohort {self.where} can lend {_n(lend)}"


def _n(x: float) -> str:
    return f"{x:g}"


class QuotaState:
    """Usage against the cohort tree during one planning pass."""

    def __init__(
        self,
        quotas: Quotas,
        nodes: tuple[Node, ...],
        usage: Mapping[str, Charges],
        totals: Charges | None = None,
    ) -> None:
        """``totals``: ``node_capacity(nodes)`` if known (it is kept between passes)."""
        self.parent: dict[str, str] = {}
        self.limits: dict[str, Mapping[str, QuotaLimit]] = {}
        children: dict[str, list[str]] = {ROOT: []}
        cohort_names = {c.name for c in quotas.cohorts}
        for c in quotas.cohorts:
            key = "c:" + c.name
            parent = "c:" + c.parent if c.parent in cohort_names and c.parent != c.name else ROOT
            self.parent[key] = parent
            self.limits[key] = c.limits
        for p in quotas.projects:
            key = "p:" + p.name
            self.parent[key] = "c:" + p.parent if p.parent in cohort_names else ROOT
            self.limits[key] = p.limits
        for name in sorted(usage):
            # A project without quota sits under the root with nothing of its own.
            if "p:" + name not in self.parent:
                self.parent["p:" + name] = ROOT
                self.limits["p:" + name] = {}
        # A cohort chain that loops never reaches the root; cut it there.
        for key in list(self.parent):
            seen = {key}
            k = self.parent[key]
            while k != ROOT:
                if k in seen:
                    self.parent[key] = ROOT
                    break
                seen.add(k)
                k = self.parent.get(k, ROOT)
        for key, parent in self.parent.items():
            children.setdefault(parent, []).append(key)
        self.children = children
        self.managed: frozenset[str] = frozenset(
            r for lims in self.limits.values() for r, q in lims.items() if q.nominal > 0
        )
        capacity = totals if totals is not None else node_capacity(nodes)
        self.root_nominal = {
            r: max(
                0.0,
                capacity.get(r, 0.0)
                - sum(lims[r].nominal for lims in self.limits.values() if r in lims),
            )
            for r in self.managed
        }
        self._order = self._postorder()
        # Per resource: subtree quota, lendable, reserved (static); usage, drawn (dynamic).
        self.quota: dict[str, dict[str, float]] = {}
        self.lendable: dict[str, dict[str, float]] = {}
        self.reserved: dict[str, dict[str, float]] = {}
        self.used: dict[str, dict[str, float]] = {}
        self.draw: dict[str, dict[str, float]] = {}
        self.child_draw: dict[str, dict[str, float]] = {}
        for r in sorted(self.managed):
            self._build(r, usage)
        # Per resource: the nodes of the tree that have a borrowing limit, and it.
        self.borrowing_limits: dict[str, dict[str, float]] = {r: {} for r in self.managed}
        for k, lims in self.limits.items():
            for r, q in lims.items():
                if r in self.managed and q.borrowing_limit is not None:
                    self.borrowing_limits[r][k] = q.borrowing_limit
        self._misses: dict[tuple[str, bool], dict[str, QuotaMiss]] = {}
        self._paths: dict[str, list[str]] = {}

    # -- static tree -----------------------------------------------------------------------

    def _postorder(self) -> list[str]:
        out: list[str] = []
        stack = [(ROOT, False)]
        while stack:
            key, done = stack.pop()
            if done:
                out.append(key)
                continue
            stack.append((key, True))
            for child in sorted(self.children.get(key, ()), reverse=True):
                stack.append((child, False))
        return out

    def nominal(self, key: str, r: str) -> float:
        if key == ROOT:
            return self.root_nominal.get(r, 0.0)
        q = self.limits.get(key, {}).get(r)
        return q.nominal if q else 0.0

    def _limit(self, key: str, r: str) -> QuotaLimit | None:
        return self.limits.get(key, {}).get(r)

    def _build(self, r: str, usage: Mapping[str, Charges]) -> None:
        quota: dict[str, float] = {}
        lendable: dict[str, float] = {}
        reserved: dict[str, float] = {}
        for key in self._order:
            kids = self.children.get(key, ())
            own = self.nominal(key, r)
            quota[key] = own + sum(quota[k] for k in kids)
            pool = own + sum(lendable[k] for k in kids)
            lim = self._limit(key, r)
            lend_cap = lim.lending_limit if lim and lim.lending_limit is not None else math.inf
            lendable[key] = pool if key == ROOT else min(lend_cap, pool)
            reserved[key] = pool - lendable[key] if key != ROOT else pool
        self.quota[r] = quota
        self.lendable[r] = lendable
        self.reserved[r] = reserved
        self._build_usage(r, usage)

    def _build_usage(self, r: str, usage: Mapping[str, Charges]) -> None:
        used: dict[str, float] = {}
        for key in self._order:
            if key.startswith("p:"):
                used[key] = float(usage.get(key[2:], {}).get(r, 0.0))
            else:
                used[key] = sum(used[k] for k in self.children.get(key, ()))
        self.used[r] = used
        reserved = self.reserved[r]
        draw: dict[str, float] = {}
        child_draw: dict[str, float] = {}
        for key in self._order:
            kids = self.children.get(key, ())
            if key.startswith("p:"):
                draw[key] = max(0.0, used[key] - reserved[key])
            else:
                child_draw[key] = sum(draw[k] for k in kids)
                draw[key] = max(0.0, child_draw[key] - reserved[key])
        self.draw[r] = draw
        self.child_draw[r] = child_draw

    def with_usage(self, usage: Mapping[str, Charges]) -> QuotaState:
        """A state on this one's tree with ``usage`` instead: what a new one would be for
        the same quotas and nodes, if ``usage`` names no project this tree lacks. The tree
        is copied where a pass changes it; this state stays as it is."""
        other = QuotaState.__new__(QuotaState)
        other.parent = dict(self.parent)
        other.limits = dict(self.limits)
        other.children = {k: list(v) for k, v in self.children.items()}
        other.managed = self.managed
        other.root_nominal = self.root_nominal
        other._order = self._order
        other.quota = {r: dict(v) for r, v in self.quota.items()}
        other.lendable = {r: dict(v) for r, v in self.lendable.items()}
        other.reserved = {r: dict(v) for r, v in self.reserved.items()}
        other.used, other.draw, other.child_draw = {}, {}, {}
        for r in sorted(other.managed):
            other._build_usage(r, usage)
        other.borrowing_limits = self.borrowing_limits
        other._misses = {}
        other._paths = {}
        return other

    # -- queries ---------------------------------------------------------------------------

    def key(self, project: str) -> str:
        key = "p:" + project
        if key not in self.parent:
            # A project without quota and without running work: under the root, unused.
            self.parent[key] = ROOT
            self.limits[key] = {}
            self.children[ROOT].append(key)
            for r in self.managed:
                self.quota[r][key] = 0.0
                self.lendable[r][key] = 0.0
                self.reserved[r][key] = 0.0
                self.used[r][key] = 0.0
                self.draw[r][key] = 0.0
        return key

    def path(self, key: str) -> list[str]:
        """``key`` and its cohorts up to the root (the tree does not change in a pass)."""
        out = self._paths.get(key)
        if out is None:
            out = self._paths[key] = [key]
            k = key
            while k != ROOT:
                k = self.parent[k]
                out.append(k)
        return out

    def project_nominal(self, project: str, r: str) -> float:
        return self.nominal(self.key(project), r)

    def project_used(self, project: str, r: str) -> float:
        if r not in self.managed:
            return 0.0
        return self.used[r][self.key(project)]

    def within_nominal(self, project: str, c: Charges) -> bool:
        key = self.key(project)
        return all(
            self.used[r][key] + amount <= self.nominal(key, r) + 1e-9
            for r, amount in c.items()
            if r in self.managed
        )

    def borrowing(self, project: str) -> bool:
        """Whether the project now uses more than its nominal quota of some resource."""
        key = self.key(project)
        return any(self.used[r][key] > self.nominal(key, r) + 1e-9 for r in self.managed)

    def available(self, project: str, r: str) -> tuple[float, str, str]:
        """(how much more of ``r`` the project may take, what binds, where)."""
        key = self.key(project)
        path = self.path(key)
        reserved, used, drawn = self.reserved[r], self.used[r], self.child_draw[r]
        # The project's own unused reserve, then what each cohort up the path can spare.
        total = max(0.0, reserved[key] - used[key])
        for k in path[1:]:
            total += max(0.0, reserved[k] - drawn[k])
        bound, where, best = "cohort", _name(path[1] if len(path) > 1 else ROOT), total
        limits = self.borrowing_limits[r]
        if limits:
            quota = self.quota[r]
            for k in path:
                limit = limits.get(k)
                if limit is None:
                    continue
                room = quota[k] + limit - used[k]
                if room < best:
                    bound, where, best = "borrowing_limit", _name(k), room
        return max(0.0, best), bound, where

    def check(self, project: str, c: Charges, *, may_borrow: bool) -> QuotaMiss | None:
        """None if the project may take ``c`` now; else the first resource that stops it.

        What is available only shrinks during a pass (what-ifs put back what they take), so
        once asking ``a`` of a resource missed, asking ``a`` or more misses for the rest of
        the pass: that answer is remembered, and a long queue of one project costs little.
        """
        known = self._misses.get((project, may_borrow))
        if known:
            for r, amount in c.items():
                miss = known.get(r)
                if miss is not None and amount >= miss.asked:
                    return miss
        miss = self.check_now(project, c, may_borrow=may_borrow)
        if miss is not None:
            seen = self._misses.setdefault((project, may_borrow), {})
            if miss.resource not in seen or miss.asked < seen[miss.resource].asked:
                seen[miss.resource] = miss
        return miss

    def check_now(self, project: str, c: Charges, *, may_borrow: bool) -> QuotaMiss | None:
        """``check`` without the memory of earlier misses, for what-ifs that free quota."""
        key = self.key(project)
        for r, amount in c.items():  # charges_for orders them by name
            if r not in self.managed or amount <= 0:
                continue
            used = self.used[r][key]
            nominal = self.nominal(key, r)
            if not may_borrow and used + amount > nominal + 1e-9:
                return QuotaMiss(project, r, amount, nominal - used, used, nominal, "nominal", "")
            avail, bound, where = self.available(project, r)
            if amount > avail + 1e-9:
                return QuotaMiss(project, r, amount, avail, used, nominal, bound, where)
        return None

    def add(self, project: str, c: Charges, sign: float = 1.0) -> None:
        key = self.key(project)
        path = self.path(key)
        for r, amount in c.items():
            if r not in self.managed:
                continue
            used, draw, child_draw, reserved = (
                self.used[r],
                self.draw[r],
                self.child_draw[r],
                self.reserved[r],
            )
            for k in path:
                used[k] += sign * amount
            delta_old = draw[key]
            draw[key] = max(0.0, used[key] - reserved[key])
            delta = draw[key] - delta_old
            for k in path[1:]:
                if delta == 0:
                    break
                child_draw[k] += delta
                old = draw[k]
                draw[k] = max(0.0, child_draw[k] - reserved[k])
                delta = draw[k] - old

    def remove(self, project: str, c: Charges) -> None:
        self.add(project, c, -1.0)


def _name(key: str) -> str:
    return key[2:] if key != ROOT else "center"


def node_capacity(nodes: tuple[Node, ...]) -> Charges:
    """What the nodes up offer: cpus, memory and devices per accelerator type."""
    out: Charges = {}
    for n in nodes:
        if n.state is not NodeState.UP:
            continue
        out[CPUS] = out.get(CPUS, 0) + n.cpus
        out[MEMORY] = out.get(MEMORY, 0) + n.memory_mib
        if n.devices:
            out[n.accelerator_type] = out.get(n.accelerator_type, 0) + len(n.devices)
    return out
