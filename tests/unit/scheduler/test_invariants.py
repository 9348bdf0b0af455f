"""Stateful property test: random clusters, quotas, jobs, completions and cancellations.

After every planning pass the decisions are applied, and the invariants a tenant depends on
are checked against an independent reading of the state (not the scheduler's own books).
"""

from __future__ import annotations

import os
from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aidc.core.policy import Policy, preset
from aidc.core.resources import Node, Request
from aidc.scheduler import (
    PendingJob,
    Plan,
    Planner,
    QuotaLimit,
    QuotaNode,
    Quotas,
    RunningJob,
    Snapshot,
    plan,
)

TYPES = ("a100", "h100")
PROJECTS = ("p1", "p2", "p3", "p4", "p5")
ORG_OF = {"p1": "org1", "p2": "org1", "p3": "org2", "p4": "org2", "p5": "org3"}
CLASSES = ("normal", "normal", "normal", "interactive", "opportunistic")

limits = st.tuples(
    st.integers(0, 8),
    st.one_of(st.none(), st.integers(0, 8)),
    st.one_of(st.none(), st.integers(0, 8)),
).map(lambda t: QuotaLimit(float(t[0]), _f(t[1]), None if t[2] is None else float(min(t[2], t[0]))))


def _f(x: int | None) -> float | None:
    return None if x is None else float(x)


@st.composite
def clusters(draw: st.DrawFn) -> tuple[Node, ...]:
    n = draw(st.integers(1, 5))
    return tuple(
        Node(
            f"n{i}",
            "gpu",
            draw(st.sampled_from([8, 16, 64])),
            64 * 1024,
            draw(st.sampled_from(TYPES)),
            tuple(range(draw(st.sampled_from([2, 4, 8])))),
            {"rack": f"r{draw(st.integers(0, 1))}"},
        )
        for i in range(n)
    )


@st.composite
def quota_trees(draw: st.DrawFn) -> Quotas:
    cohorts = (
        QuotaNode("program", None),
        QuotaNode("org1", "program", {"a100": draw(limits)} if draw(st.booleans()) else {}),
        QuotaNode("org2", "program"),
        QuotaNode("org3", None),
    )
    projects = tuple(
        QuotaNode(
            p,
            ORG_OF[p],
            {t: draw(limits) for t in TYPES if draw(st.booleans())},
            float(draw(st.integers(1, 4))),
        )
        for p in PROJECTS
        if draw(st.integers(0, 5)) > 0
    )
    return Quotas(cohorts, projects)


jobs = st.builds(
    lambda project, cls, gpus, nodes, types, limit, cpus: (
        project,
        cls,
        gpus,
        nodes,
        types,
        limit,
        cpus,
    ),
    st.sampled_from(PROJECTS),
    st.sampled_from(CLASSES),
    st.sampled_from([1, 1, 1, 2, 4, 8]),
    st.sampled_from([1, 1, 1, 2]),
    st.sampled_from([("a100",), ("h100",), ("a100", "h100"), ()]),
    st.sampled_from([None, 60, 600, 3600]),
    st.sampled_from([1, 2, 4]),
)


class Cluster(RuleBasedStateMachine):
    @initialize(
        nodes=clusters(),
        quotas=quota_trees(),
        policy=st.sampled_from(["fairshare", "fifo", "sjf"]),
        attempts=st.sampled_from([None, 0, 1, 3]),
        reservations=st.sampled_from([1, 1, 2]),
    )
    def setup(
        self,
        nodes: tuple[Node, ...],
        quotas: Quotas,
        policy: str,
        attempts: int | None,
        reservations: int,
    ) -> None:
        self.nodes = nodes
        self.quotas = quotas
        self.policy: Policy = preset(policy)
        # Few preemption attempts per pass: passes that run out of them early, where the
        # scheduler may leave groups of waiting jobs alone.
        if attempts is not None:
            pre = self.policy.preemption.model_copy(update={"max_attempts_per_pass": attempts})
            self.policy = self.policy.model_copy(update={"preemption": pre})
        backfill = self.policy.backfill.model_copy(update={"reservations": reservations})
        self.policy = self.policy.model_copy(update={"backfill": backfill})
        self.now = 1000.0
        self.seq = 0
        self.queue: dict[str, PendingJob] = {}
        self.running: dict[str, RunningJob] = {}
        self.last: Plan | None = None
        self.planner = Planner()

    # -- steps -----------------------------------------------------------------------------

    @rule(job=jobs)
    def submit(self, job: tuple) -> None:  # type: ignore[type-arg]
        project, cls, gpus, nodes, types, limit, cpus = job
        self.seq += 1
        jid = f"j{self.seq:03d}"
        self.queue[jid] = PendingJob(
            jid,
            Request(nodes, cpus, 1024, gpus, types),
            self.now,
            project,
            self.seq,
            cls,
            time_limit_s=limit,
        )

    @rule()
    def schedule(self) -> None:
        self.now += 1
        p = self.pass_()
        self.apply(p)

    @precondition(lambda self: self.running)
    @rule(data=st.data())
    def finish(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(self.running)))
        del self.running[jid]

    @precondition(lambda self: self.queue)
    @rule(data=st.data())
    def cancel_pending(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(self.queue)))
        del self.queue[jid]

    @rule()
    def preempted_jobs_exit_and_their_claimants_get_in(self) -> None:
        """A pass that preempts, the grace period in which the victims exit, the next pass:
        the job that asked for room is admitted, unless a job ranked ahead of it took it."""
        self.now += 1
        first = self.pass_()
        self.apply(first)
        claimants = {x.for_job for x in first.preempt}
        if not claimants:
            return
        for jid in [j for j, r in self.running.items() if r.stopping]:
            del self.running[jid]
        self.now += 60
        second = self.pass_()
        rank = {w.job_id: w.position for w in first.waiting}
        got_in = {d.job_id for d in second.admit}
        for claimant in claimants:
            if claimant in got_in or claimant not in self.queue:
                continue
            ahead = [j for j in got_in if rank.get(j, 10**9) < rank[claimant]]
            still = [w for w in second.waiting if w.job_id == claimant]
            assert ahead or (still and still[0].reason == "preempting"), (
                claimant,
                still,
            )
        self.apply(second)

    # -- helpers ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.nodes,
            tuple(self.running[j] for j in sorted(self.running)),
            tuple(self.queue[j] for j in sorted(self.queue)),
            {},
            self.quotas,
            {},
            self.policy,
            self.now,
        )

    def pass_(self) -> Plan:
        snap = self.snapshot()
        p = plan(snap)
        assert plan(snap) == p, "the same input gave another plan"
        assert self.planner.plan(snap) == p, "a Planner kept from pass to pass differs"
        self.check_shortcuts(snap, p)
        self.check_gangs(p)
        return p

    def check_shortcuts(self, snap: Snapshot, p: Plan) -> None:
        """Leaving groups of alike jobs once they are bound to wait decides exactly what
        considering every job in turn decides, with the same order and priorities."""
        slow = Planner(thorough=True).plan(snap)
        assert (slow.admit, slow.preempt, slow.reservations) == (
            p.admit,
            p.preempt,
            p.reservations,
        )
        assert [(w.job_id, w.position, w.project_position, w.priority) for w in slow.waiting] == [
            (w.job_id, w.position, w.project_position, w.priority) for w in p.waiting
        ]

    def apply(self, p: Plan) -> None:
        for d in p.admit:
            job = self.queue.pop(d.job_id)
            self.running[d.job_id] = RunningJob(
                d.job_id,
                d.placement,
                job.project,
                job.priority_class,
                self.now,
                d.time_limit_s or 3600,
            )
        for x in p.preempt:
            r = self.running[x.job_id]
            assert not r.stopping, "a job already stopping was preempted again"
            self.running[x.job_id] = RunningJob(
                r.job_id,
                r.placement,
                r.project,
                r.priority_class,
                r.started_at,
                r.time_limit_s,
                True,
            )
        self.last = p

    def check_gangs(self, p: Plan) -> None:
        for d in p.admit:
            job = self.queue[d.job_id]
            req = job.request
            held = d.placement.nodes
            assert len(held) == req.nodes
            assert len({n.node for n in held}) == req.nodes
            assert len({n.accelerator_type for n in held}) == 1
            for n in held:
                assert (n.cpus, len(n.devices)) == (req.cpus, req.accelerators)
                if req.accelerators:
                    assert req.accepts(n.accelerator_type)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def no_device_twice_and_no_node_past_its_size(self) -> None:
        if not hasattr(self, "nodes"):
            return
        size = {n.name: n for n in self.nodes}
        devices: set[tuple[str, int]] = set()
        cpus: dict[str, int] = defaultdict(int)
        for r in self.running.values():
            for h in r.placement.nodes:
                for d in h.devices:
                    assert (h.node, d) not in devices, f"device {h.node}[{d}] given twice"
                    assert d in size[h.node].devices
                    devices.add((h.node, d))
                cpus[h.node] += h.cpus
        for name, used in cpus.items():
            assert used <= size[name].cpus

    @invariant()
    def quota_is_exceeded_only_by_borrowing_within_limits(self) -> None:
        if not hasattr(self, "nodes"):
            return
        used: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for r in self.running.values():
            if self.policy.of_class(r.priority_class).beyond_quota:
                continue
            for h in r.placement.nodes:
                if h.devices:
                    used[r.project][h.accelerator_type] += len(h.devices)
        parent = {p.name: p.parent for p in self.quotas.projects}
        parent.update({c.name: c.parent for c in self.quotas.cohorts})
        nodes = {p.name: p for p in self.quotas.projects}
        nodes.update({c.name: c for c in self.quotas.cohorts})

        def subtree(name: str) -> list[str]:
            return [p for p in PROJECTS if _ancestors(p, parent, name)]

        capacity = defaultdict(float)
        for n in self.nodes:
            capacity[n.accelerator_type] += len(n.devices)
        for t in TYPES:
            nominal = {k: v.limits[t].nominal for k, v in nodes.items() if t in v.limits}
            if not any(nominal.values()):
                continue  # unmanaged: only capacity limits it
            total_quota = max(capacity[t], sum(nominal.values()))
            for name, node in nodes.items():
                members = subtree(name) if name not in PROJECTS else [name]
                q = sum(nominal.get(k, 0.0) for k in nodes if _ancestors(k, parent, name))
                mine = sum(used[m][t] for m in members)
                lim = node.limits.get(t)
                if lim is not None and lim.borrowing_limit is not None:
                    assert mine <= q + lim.borrowing_limit + 1e-9, (name, t, mine, q)
                if lim is not None and lim.lending_limit is not None:
                    kept = max(0.0, q - lim.lending_limit - mine)
                    others = sum(used[p][t] for p in PROJECTS) - mine
                    assert others + mine + kept <= total_quota + 1e-9, (name, t)


def _ancestors(node: str, parent: dict[str, str | None], of: str) -> bool:
    """Whether ``of`` is ``node`` or one of its ancestors."""
    seen = 0
    k: str | None = node
    while k is not None and seen < 10:
        if k == of:
            return True
        k = parent.get(k)
        seen += 1
    return False


Cluster.TestCase.settings = settings(
    max_examples=int(os.environ.get("AIDC_STATEFUL_EXAMPLES", "150")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestScheduler = Cluster.TestCase
