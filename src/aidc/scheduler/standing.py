"""What a pass starts from, kept between passes and brought up to date by what changed.

Working out each node's free capacity, and each project's quota use, from the nodes and
every running job costs a pass time in proportion to the cluster, however little changed
since the last pass: for a simulator that plans after every submission and end, that was
most of the time. A ``Standing`` keeps the free capacity the last pass left (its own
admissions taken), the quota charges of the running jobs and which projects run, and for
the next snapshot releases what ended or moved and takes what started. The result is what
a new ``Capacity`` and ``fresh_charges`` would give, node for node and in the same order; a
different node list, topology label or set of classes beyond quota builds them afresh.

What changed is found by object identity (``RunningJob`` is immutable, and the controller
and the simulator pass the same object for a job that did not change), as set differences
of ``id``s, which cost little per running job; the jobs kept from the last snapshot hold
their ids (an id is reused only once its object is gone). A job that came back as a new
object with the same placement and project changes nothing.

A pass's explanations are built when they are read, from its capacity; the next pass goes
on from that capacity, so a plan's explanations must be read before the next pass starts
(the controller reads them right after planning): unread, they expire then, and reading
them later is an error that says so.
"""

from __future__ import annotations

from aidc.core.resources import Node, Placement
from aidc.scheduler.placement import Capacity
from aidc.scheduler.quota import Charges, QuotaState, add_placement_charges, node_capacity
from aidc.scheduler.snapshot import Explained, Plan, Quotas, RunningJob, Snapshot


class Standing:
    """Free capacity, quota use and running projects kept from pass to pass (one
    ``Planner`` owns one)."""

    def __init__(self) -> None:
        self._cap: Capacity | None = None
        self._nodes: tuple[Node, ...] = ()
        self._label = ""
        self._beyond: frozenset[str] = frozenset()
        # The last snapshot's running jobs by id(), and the last pass's admissions.
        self._running: dict[int, RunningJob] = {}
        self._admitted: dict[str, Placement] = {}
        # The last plan's explanations: they expire when the next pass starts.
        self._explained: Explained | None = None
        # Project -> charges of its running jobs not beyond quota, and how many those are.
        self.charged: dict[str, Charges] = {}
        self._charged_jobs: dict[str, int] = {}
        # Project -> running jobs of any class.
        self.projects: dict[str, int] = {}
        self.node_totals: Charges = {}
        # The quota tree for (quotas, node totals, projects without quota that run), with
        # no usage: each pass takes a copy with its usage (``QuotaState.with_usage``).
        self._tree: tuple[Quotas, Charges, tuple[str, ...], QuotaState] | None = None

    def sync(self, s: Snapshot) -> Capacity:
        """The free capacity for ``s`` (``charged``, ``projects`` and ``node_totals`` now
        read as of ``s``), to be changed by one pass and then ``kept``."""
        if self._explained is not None:
            self._explained.expire()
            self._explained = None
        label = s.policy.placement.topology_label
        beyond = frozenset(n for n, c in s.policy.classes.items() if c.beyond_quota)
        cap = self._cap
        running = dict(zip(map(id, s.running), s.running, strict=True))
        if (
            cap is None
            or label != self._label
            or beyond != self._beyond
            or (s.nodes is not self._nodes and s.nodes != self._nodes)
        ):
            cap = self._rebuild(s, label, beyond)
        else:
            before = self._running
            gone = [before[i] for i in before.keys() - running.keys()]
            came = {running[i].job_id: running[i] for i in running.keys() - before.keys()}
            self._update(cap, gone, came)
        # Until ``kept``: a pass that fails half-way leaves nothing to build on.
        self._cap, self._running, self._admitted = None, running, {}
        return cap

    def _rebuild(self, s: Snapshot, label: str, beyond: frozenset[str]) -> Capacity:
        self._nodes, self._label, self._beyond = s.nodes, label, beyond
        self.node_totals = node_capacity(s.nodes)
        self.charged = fresh_charges(s.running, beyond)
        self._charged_jobs, self.projects = {}, {}
        for r in s.running:
            self.projects[r.project] = self.projects.get(r.project, 0) + 1
            if r.priority_class not in beyond:
                self._charged_jobs[r.project] = self._charged_jobs.get(r.project, 0) + 1
        return Capacity(s.nodes, s.running, label)

    def _update(self, cap: Capacity, gone: list[RunningJob], came: dict[str, RunningJob]) -> None:
        # Of the jobs that came as new objects, those that hold what they held before
        # (as a running job, or as the last pass admitted them) are already taken.
        held = {job_id for job_id, p in self._admitted.items() if _holds(came.get(job_id), p)}
        for job_id, p in self._admitted.items():
            if job_id not in held:
                cap.release(p)
        for old in gone:
            new = came.get(old.job_id)
            if _holds(new, old.placement):
                held.add(old.job_id)
            else:
                cap.release(old.placement)
            self._count(old, -1)
        for job_id, new in came.items():
            if job_id not in held:
                cap.take(new.placement)
            self._count(new, 1)

    def _count(self, r: RunningJob, sign: int) -> None:
        project = r.project
        left = self.projects.get(project, 0) + sign
        if left:
            self.projects[project] = left
        else:
            del self.projects[project]
        if r.priority_class in self._beyond:
            return
        n = self._charged_jobs.get(project, 0) + sign
        if n == 0:
            # No job of it runs: it leaves the table, as a fresh one would not list it.
            del self.charged[project], self._charged_jobs[project]
            return
        self._charged_jobs[project] = n
        mine = self.charged.setdefault(project, {})
        if sign > 0:
            add_placement_charges(mine, r.placement)
            return
        gone: Charges = {}
        add_placement_charges(gone, r.placement)
        for resource, v in gone.items():
            mine[resource] -= v

    def quota(self, s: Snapshot) -> QuotaState:
        """The quota state for ``s``, after ``sync``: what a new ``QuotaState`` would be."""
        named = {p.name for p in s.quotas.projects}
        extra = tuple(sorted(p for p in self.charged if p not in named))
        tree = self._tree
        if (
            tree is None
            or (tree[0] is not s.quotas and tree[0] != s.quotas)
            or tree[1] != self.node_totals
            or tree[2] != extra
        ):
            empty: dict[str, Charges] = {p: {} for p in extra}
            tree = self._tree = (
                s.quotas,
                dict(self.node_totals),
                extra,
                QuotaState(s.quotas, s.nodes, empty, self.node_totals),
            )
        return tree[3].with_usage(self.charged)

    def kept(self, cap: Capacity, plan: Plan) -> None:
        """After a pass: ``cap`` as it left it, holding what ``plan`` admitted too."""
        self._admitted = {d.job_id: d.placement for d in plan.admit}
        self._cap, self._explained = cap, plan.explained


def _holds(r: RunningJob | None, p: Placement) -> bool:
    return r is not None and (r.placement is p or r.placement == p)


def fresh_charges(running: tuple[RunningJob, ...], beyond: frozenset[str]) -> dict[str, Charges]:
    """Project -> what its running jobs not beyond quota count against quota, from scratch."""
    usage: dict[str, Charges] = {}
    for r in running:
        if r.priority_class not in beyond:
            add_placement_charges(usage.setdefault(r.project, {}), r.placement)
    return usage
