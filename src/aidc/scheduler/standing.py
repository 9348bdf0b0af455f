"""What a pass starts from, kept between passes and brought up to date by what changed.

Working out each node's free capacity, and each project's quota use, from the nodes and
every running job costs a pass time in proportion to the cluster, however little changed
since the last pass: for a simulator that plans after every submission and end, that was
most of the time. A ``Standing`` keeps the free capacity the last pass left (its own
admissions taken) and the quota charges of the running jobs, and for the next snapshot
releases what ended or moved and takes what started, so a pass costs in proportion to the
change. The result is what a new ``Capacity`` and ``Decider`` would build, node for node
and in the same order; a different node list, topology label or set of classes beyond
quota builds them afresh.

A pass's explanations are built when they are read, from its capacity; the next pass goes
on from that capacity, so a plan's explanations must be read before the next pass starts
(the controller reads them right after planning): unread, they expire then, and reading
them later is an error that says so.
"""

from __future__ import annotations

from aidc.core.resources import Node, Placement
from aidc.scheduler.placement import Capacity
from aidc.scheduler.quota import Charges, add_placement_charges, node_capacity
from aidc.scheduler.snapshot import Explained, Plan, RunningJob, Snapshot


class Standing:
    """Free capacity kept from pass to pass (one ``Planner`` owns one)."""

    def __init__(self) -> None:
        self._cap: Capacity | None = None
        self._nodes: tuple[Node, ...] = ()
        self._label = ""
        # What the capacity holds for: job id -> placement (running jobs, and admissions).
        self._held: dict[str, Placement] = {}
        # The last plan's explanations: they expire when the next pass starts.
        self._explained: Explained | None = None
        # Quota use of the running jobs not beyond quota: project -> charges, how many
        # jobs, and the jobs counted.
        self._beyond: frozenset[str] = frozenset()
        self._charged: dict[str, Charges] = {}
        self._charged_jobs: dict[str, int] = {}
        self._charging: dict[str, RunningJob] = {}
        self.node_totals: Charges = {}

    def capacity(self, s: Snapshot) -> Capacity:
        """The free capacity for ``s``, to be changed by one pass and then ``kept``."""
        if self._explained is not None:
            self._explained.expire()
            self._explained = None
        label = s.policy.placement.topology_label
        cap = self._cap
        held = {r.job_id: r.placement for r in s.running}
        if (
            cap is None
            or label != self._label
            or (s.nodes is not self._nodes and s.nodes != self._nodes)
        ):
            cap = Capacity(s.nodes, s.running, label)
            self.node_totals = node_capacity(s.nodes)
        else:
            before = self._held
            for job_id, p in before.items():
                now = held.get(job_id)
                if now is None or (now is not p and now != p):
                    cap.release(p)
            for job_id, p in held.items():
                was = before.get(job_id)
                if was is None or (was is not p and was != p):
                    cap.take(p)
        # Until ``kept``: a pass that fails half-way leaves nothing to build on.
        self._cap, self._nodes, self._label, self._held = None, s.nodes, label, held
        return cap

    def charged(self, s: Snapshot) -> dict[str, Charges]:
        """Project -> what its running jobs count against quota (classes beyond quota
        aside), for ``s``; read only (the pass copies what it changes)."""
        beyond = frozenset(n for n, c in s.policy.classes.items() if c.beyond_quota)
        if beyond != self._beyond:
            self._beyond = beyond
            self._charged, self._charged_jobs, self._charging = {}, {}, {}
        now: dict[str, RunningJob] = {}
        for r in s.running:
            if r.priority_class not in beyond:
                now[r.job_id] = r
        before = self._charging
        for job_id, old in before.items():
            new = now.get(job_id)
            if new is not old and _moved(new, old):
                self._count(old, -1)
        for job_id, new_job in now.items():
            old_job = before.get(job_id)
            if new_job is not old_job and _moved(old_job, new_job):
                self._count(new_job, 1)
        self._charging = now
        return self._charged

    def _count(self, r: RunningJob, sign: int) -> None:
        placement, project = r.placement, r.project
        n = self._charged_jobs.get(project, 0) + sign
        if n == 0:
            # No job of it runs: it leaves the table, as a fresh one would not list it.
            del self._charged[project], self._charged_jobs[project]
            return
        self._charged_jobs[project] = n
        mine = self._charged.setdefault(project, {})
        if sign > 0:
            add_placement_charges(mine, placement)
            return
        gone: Charges = {}
        add_placement_charges(gone, placement)
        for resource, v in gone.items():
            mine[resource] -= v

    def kept(self, cap: Capacity, plan: Plan) -> None:
        """After a pass: ``cap`` as it left it, holding what ``plan`` admitted too."""
        for d in plan.admit:
            self._held[d.job_id] = d.placement
        self._cap, self._explained = cap, plan.explained


def _moved(a: RunningJob | None, b: RunningJob | None) -> bool:
    """Whether ``a`` and ``b`` (the same job in two snapshots) count differently."""
    if a is None or b is None:
        return True
    return a.project != b.project or (a.placement is not b.placement and a.placement != b.placement)


def fresh_charges(running: tuple[RunningJob, ...], beyond: frozenset[str]) -> dict[str, Charges]:
    """What ``Standing.charged`` gives, worked out from scratch."""
    usage: dict[str, Charges] = {}
    for r in running:
        if r.priority_class not in beyond:
            add_placement_charges(usage.setdefault(r.project, {}), r.placement)
    return usage
