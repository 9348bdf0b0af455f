"""One planning pass: ``plan(snapshot) -> Plan``. Pure and deterministic.

For each pending job, in the order ``ordering`` gives (``consider``):
1. pick the acceptable accelerator types in policy order (cheapest billing weight first);
2. for the first type where the quota allows it (``quota``) and a placement exists
   (``placement``) without touching nodes reserved for a job ahead (``backfill``): admit;
3. otherwise try preemption (``preemption``): stop the fewest, cheapest jobs that make room;
4. otherwise the job waits; the first blocked jobs get reservations (EASY backfill), or fence
   their partition when backfill is off; ``explain`` says why in numbers.

The order is walked group by group (``run``: a heap over the heads of the groups of alike
jobs that ``queue_index`` keeps), and a group, or a lane of groups, is left as soon as the
rest of it is bound to wait; ``Planner(thorough=True)`` considers every job instead, with the
same decisions. ``waiting`` builds the explanations when the plan's ``waiting`` is read.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from functools import partial

from aidc.core import accelerators
from aidc.core.policy import Ordering, PlacementStrategy, Policy, TypeChoice
from aidc.core.resources import Placement, Request
from aidc.scheduler import explain, ordering, preemption
from aidc.scheduler.backfill import Blocks, earliest_start
from aidc.scheduler.placement import CPU, Capacity
from aidc.scheduler.queue_index import Group, QueueIndex, in_group_order
from aidc.scheduler.quota import (
    Charges,
    QuotaMiss,
    QuotaState,
    add_placement_charges,
    charges_for,
)
from aidc.scheduler.snapshot import (
    Decision,
    Explained,
    Explanation,
    PendingJob,
    Plan,
    Preemption,
    Reason,
    Reservation,
    RunningJob,
    Snapshot,
)
from aidc.scheduler.waiting import Kind, Waiting, Walk, explain_waiting


def acceptable_types(job: PendingJob, cap: Capacity, policy: Policy) -> tuple[str, ...]:
    """Types ``job`` may run on that have nodes up, best first by the policy's choice."""
    if not job.request.accelerators:
        return (CPU,)
    types = [t for t in cap.types if t != CPU and job.request.accepts(t)]
    if policy.placement.accelerator_choice is TypeChoice.FASTEST:
        types.sort(key=lambda t: (-accelerators.peak_tflops(t), t))
    else:
        types.sort(key=lambda t: (accelerators.billing_weight(t), t))
    return tuple(types)


class _Pass:
    """The mutable state of one pass; ``plan`` is its only user."""

    def __init__(self, s: Snapshot, thorough: bool = False) -> None:
        self.s = s
        # Consider every job in turn (for tests: the same decisions, the slow way).
        self.thorough = thorough
        self.policy = s.policy
        self.now = s.now
        self.cap = Capacity(s.nodes, s.running, self.policy.placement.topology_label)
        self.quota = QuotaState(s.quotas, s.nodes, self._charged_usage(s.running))
        self.blocks = Blocks()
        self.admit: list[Decision] = []
        self.preempt: list[Preemption] = []
        # Ends of what holds capacity, for reservations: this pass's admits (``releases``
        # adds the running jobs' when a reservation is first looked for).
        self._releases: list[tuple[float, Placement]] = []
        self.victim_index: preemption.VictimIndex | None = None
        self.attempts = self.policy.preemption.max_attempts_per_pass
        self.missed: set[tuple[object, ...]] = set()
        # Why a shape waits; cleared by every admission, which changes the free numbers.
        self.explained: dict[tuple[object, ...], tuple[Reason, str, Reservation | None]] = {}
        self._partitions: dict[str, frozenset[str]] = {}
        self._types: dict[tuple[tuple[str, ...], float, bool], tuple[str, ...]] = {}
        self._full: dict[tuple[str, ...], tuple[int, bool]] = {}
        self._fenced: dict[str, tuple[int, bool]] = {}
        self._charges: dict[tuple[Request, str], Charges] = {}

    def types_for(self, job: PendingJob) -> tuple[str, ...]:
        req = job.request
        key = (req.accelerator_types, req.min_accelerator_memory_gb, bool(req.accelerators))
        types = self._types.get(key)
        if types is None:
            types = self._types[key] = acceptable_types(job, self.cap, self.policy)
        return types

    def releases(self) -> list[tuple[float, Placement]]:
        """When what holds capacity lets go: running jobs (now, if stopping) and admits."""
        return [
            (self.now if r.stopping else r.ends_by, r.placement) for r in self.s.running
        ] + self._releases

    def charges(self, req: Request, t: str) -> Charges:
        """``charges_for``, shared by every job of that request in the pass (read only)."""
        key = (req, t)
        found = self._charges.get(key)
        if found is None:
            found = self._charges[key] = charges_for(req, t)
        return found

    def _charged_usage(self, running: tuple[RunningJob, ...]) -> dict[str, Charges]:
        usage: dict[str, Charges] = {}
        beyond = {name for name, c in self.policy.classes.items() if c.beyond_quota}
        for r in running:
            if r.priority_class in beyond:
                continue
            mine = usage.get(r.project)
            if mine is None:
                mine = usage[r.project] = {}
            add_placement_charges(mine, r.placement)
        return usage

    def ranks(
        self, groups: list[Group], heads: list[PendingJob], kinds: dict[Group, Kind]
    ) -> list[tuple[Kind, ordering.Ranking | None]]:
        """What each group asks (``Kind``: taken from ``kinds`` if known, else added to it)
        and its ranking for this pass: fair share, tier and the priority of its jobs. With
        ``fifo`` (submission order: no tier) a ranking is made only for a group the pass
        reaches (``rank``)."""
        s = self.s
        shares = {p.name: p.shares for p in s.quotas.projects}
        projects = {j.project for j in heads} | {r.project for r in s.running} | set(shares)
        self._fair = ordering.fair_share_factors(s.usage, shares, projects)
        self._ranker = ordering.Ranker(
            self.policy, self.now, sum(v for k, v in self.cap.total_devices.items() if k != CPU)
        )
        lazy = self.policy.ordering is Ordering.FIFO
        out: list[tuple[Kind, ordering.Ranking | None]] = []
        for g, j in zip(groups, heads, strict=True):
            kind = kinds.get(g)
            if kind is None:
                kind = kinds[g] = self._kind(j, self._ranker.standing(j))
            out.append((kind, None if lazy else self.rank(j, kind)))
        return out

    def rank(self, head: PendingJob, kind: Kind) -> ordering.Ranking:
        """The ranking of ``head``'s group; its tier reads the quota as the pass started."""
        if kind.cls.beyond_quota:
            tier = 2
        elif not kind.types:
            tier = 1
        else:
            tier = 0 if self.quota.within_nominal(head.project, kind.charges[0]) else 1
        return self._ranker.ranking(kind.standing, self._fair.get(head.project, 1.0), tier)

    def _kind(self, j: PendingJob, standing: tuple[float, float]) -> Kind:
        cls = self.policy.of_class(j.priority_class)
        types = self.types_for(j)
        charges = tuple(self.charges(j.request, t) for t in types)
        dead: Waiting | None = None
        if not types:
            asked = " or ".join(j.request.accelerator_types) or "accelerator"
            dead = (Reason.NO_NODES, f"no {asked} node is up now", None)
        return Kind(cls, types, charges, dead, standing)

    def _generation(self) -> int:
        """Grows whenever the pass's state does (admission, preemption, reservation, fence)."""
        return (
            len(self.admit) + len(self.preempt) + len(self.blocks.reservations) + self.blocks.growth
        )

    def may_preempt(self) -> bool:
        return self.policy.preemption.enabled and self.attempts > 0

    def bound_after(self, job: PendingJob, kind: Kind, reason: Reason) -> float:
        """After ``job`` waited for ``reason``: the later jobs of its group that end after
        the returned time wait too (-inf: all of them; inf: none is known to).

        Within a pass what is free only shrinks (admissions take capacity and quota;
        reservations and fences only add), so a job alike but later cannot get in unless the
        pass can still change in its favour or it has a side effect of its own: a
        preemption to try, or a reservation (without backfill, a fence) it might add. A job
        that failed on quota never gets as far as reserving."""
        if self.may_preempt() and not kind.cls.beyond_quota:
            return math.inf
        if reason is Reason.QUOTA or reason is Reason.NO_NODES:
            return -math.inf
        lane = self.lane(job, kind.types)
        if not self.quiet(lane or ("",)):
            return math.inf
        # Only a job that ends before a reservation this one ran into might backfill.
        return self.blocks.alike_until(self.now + self.limit(job))

    def quiet(self, types: tuple[str, ...]) -> bool:
        """Whether waiting on ``types`` ("" for CPU jobs) has no side effect any more: no
        preemption is left to try, and no reservation (without backfill: no fence of their
        nodes) can be added."""
        pol = self.policy
        if self.may_preempt():
            return False
        if pol.backfill.enabled:
            return len(self.blocks.reservations) >= pol.backfill.reservations
        return all(self.fenced(t) for t in types)

    def fenced(self, t: str) -> bool:
        """Whether every node of type ``t`` ("": every node) is fenced: no later job may
        use any of them in this pass."""
        known = self._fenced.get(t)
        if known is not None and known[0] == self.blocks.growth:
            return known[1]
        answer = self.partition(t) <= self.blocks.fenced
        self._fenced[t] = (self.blocks.growth, answer)
        return answer

    def run(self, groups: list[Group], kinds: dict[Group, Kind]) -> Plan:
        """Consider jobs in order, taking the next from whichever group's head ranks first.

        A job that waits often tells for the rest of its group (``bound_after``): those
        wait too, for the same reason, and are not looked at again. Groups are kept in lanes
        by the accelerator types they accept; once no node of a lane's types has a device
        free and waiting can change nothing (``quiet``), the lane's groups are left, to be
        explained (``late``) if the plan's explanations are read. Decisions are those of
        considering every job in turn (``thorough``).
        """
        heads = [g.jobs[0] for g in groups]
        table = self.ranks(groups, heads, kinds)
        walks: list[Walk | None] = [None] * len(groups)

        def walk(n: int) -> Walk:
            w = walks[n]
            if w is None:
                kind, rank = table[n]
                # Only with fifo is a ranking made this late: its tier orders nothing there.
                w = walks[n] = Walk(groups[n].jobs, rank or self.rank(heads[n], kind), kind)
            return w

        by_lane: dict[tuple[str, ...], list[tuple[ordering.SortKey, int]]] = {}
        for n, (kind, rank) in enumerate(table):
            head = heads[n]
            key = rank.key(head) if rank is not None else in_group_order(head)
            by_lane.setdefault(self.lane(head, kind.types), []).append((key, n))
        lanes = list(by_lane.items())
        tops: list[tuple[ordering.SortKey, int]] = []
        for li, (_, heap) in enumerate(lanes):
            heapq.heapify(heap)
            tops.append((heap[0][0], li))
        heapq.heapify(tops)
        admitted: set[str] = set()
        left: list[tuple[ordering.SortKey, int]] = []
        while tops:
            li = tops[0][1]
            lane, heap = lanes[li]
            if self.lane_full(lane):
                heapq.heappop(tops)
                left.extend(heap)
                continue
            n = heapq.heappop(heap)[1]
            w = walk(n)
            if self.step(w, admitted):
                heapq.heappush(heap, (w.rank.key(w.jobs[w.i]), n))
            if heap:
                heapq.heapreplace(tops, (heap[0][0], li))
            else:
                heapq.heappop(tops)
        return Plan(
            admit=tuple(self.admit),
            preempt=tuple(self.preempt),
            reservations=tuple(self.blocks.reservations),
            explained=Explained(partial(self.explain, walks, walk, left, admitted)),
        )

    def explain(
        self,
        walks: list[Walk | None],
        walk: Callable[[int], Walk],
        left: list[tuple[ordering.SortKey, int]],
        admitted: set[str],
    ) -> tuple[Explanation, ...]:
        """The plan's explanations. The groups of full lanes are explained first, as the
        pass finished (``late``), in the order it would have reached them: explaining one can
        change what the next reads (a quota miss is remembered)."""
        for _, n in sorted(left):
            w = walk(n)
            w.segments.append((w.i, self.late(w)))
        return explain_waiting([w for w in walks if w is not None], admitted)

    def step(self, w: Walk, admitted: set[str]) -> bool:
        """Consider the next job of ``w``; whether ``w`` has another job to consider."""
        kind, job = w.kind, w.jobs[w.i]
        if not self.thorough:
            if kind.dead is not None:
                w.segments.append((w.i, kind.dead))
                return False
            if not kind.cls.beyond_quota and not self.may_preempt():
                # What consider would find, the short way: no type's quota admits it, and
                # with no preemption left none of its group gets in this pass.
                miss = self.quota_miss(job.project, kind)
                if miss is not None:
                    w.segments.append((w.i, (Reason.QUOTA, miss.message, None)))
                    return False
        # Jobs alike wait for the same reason until the pass's state changes; a long
        # queue is mostly such repeats.
        generation = self._generation()
        hit = w.outcomes.get(job.time_limit_s) if w.outcomes is not None else None
        if hit is not None and hit[0] == generation:
            waits: Waiting | None = hit[1]
        else:
            waits = self.consider(job, w.kind)
            if waits is not None and self._generation() == generation:
                if w.outcomes is None:
                    w.outcomes = {}
                w.outcomes[job.time_limit_s] = (generation, waits)
        if waits is None:
            admitted.add(job.job_id)
            w.admitted = w.admitted or bool(w.segments)
        else:
            w.segments.append((w.i, waits))
            if not self.thorough:
                w.bound = min(w.bound, self.bound_after(job, w.kind, waits[0]))
        w.i = self._next(w)
        return w.i < len(w.jobs)

    def quota_miss(self, project: str, kind: Kind) -> QuotaMiss | None:
        """The first type's quota miss if no acceptable type's quota admits a job of
        ``kind`` now; None if one does."""
        first: QuotaMiss | None = None
        for c in kind.charges:
            miss = self.quota.check(project, c, may_borrow=kind.cls.may_borrow)
            if miss is None:
                return None
            first = first or miss
        return first

    @staticmethod
    def lane(job: PendingJob, types: tuple[str, ...]) -> tuple[str, ...]:
        """The accelerator types ``job`` may use (none for CPU jobs, which may use any node)."""
        return types if job.request.accelerators else ()

    def lane_full(self, lane: tuple[str, ...]) -> bool:
        """Whether no job of ``lane`` can get in or change anything for the rest of the
        pass: the pass is quiet for it, and on each of its types no device is free or every
        node is fenced (both last to the end of the pass)."""
        if self.thorough or not lane:
            return False
        full = self._full.get(lane)
        generation = self._generation()
        if full is not None and full[0] == generation:
            return full[1]
        answer = self.quiet(lane) and all(
            self.fenced(t) or self.cap.most_free_on_one_node(t) == 0 for t in lane
        )
        self._full[lane] = (generation, answer)
        return answer

    def late(self, w: Walk) -> Waiting:
        """Why the jobs of a group the pass left (``lane_full``) wait, in its final state."""
        waits = self.consider(w.jobs[w.i], w.kind)
        assert waits is not None, "a job of a full lane got in after the pass"
        return waits

    def _next(self, w: Walk) -> int:
        """The next job of ``w`` that might still be admitted (``len(w.jobs)``: none)."""
        i, jobs = w.i + 1, w.jobs
        if w.bound == math.inf:
            return i
        if w.bound == -math.inf:
            return len(jobs)
        end = w.bound - self.now
        default = self.policy.of_class(jobs[0].priority_class).default_time_limit_s
        while i < len(jobs) and (jobs[i].time_limit_s or default) > end:
            i += 1
        return i

    def limit(self, job: PendingJob) -> float:
        return float(
            job.time_limit_s or self.policy.of_class(job.priority_class).default_time_limit_s
        )

    def consider(self, job: PendingJob, kind: Kind) -> Waiting | None:
        """Admit ``job`` or say why it waits."""
        cls, types = kind.cls, kind.types
        if not types:
            assert kind.dead is not None
            return kind.dead
        limit = self.limit(job)
        spread = (
            job.spread
            if job.spread is not None
            else self.policy.placement.strategy is PlacementStrategy.SPREAD
        )
        excluded = self.blocks.excluded_for(self.now + limit)
        quota_miss: QuotaMiss | None = None
        fit_miss: str | None = None
        for t, c in zip(types, kind.charges, strict=True):
            if not cls.beyond_quota:
                miss = self.quota.check(job.project, c, may_borrow=cls.may_borrow)
                if miss is not None:
                    quota_miss = quota_miss or miss
                    continue
            shape = (t, job.request, spread, job.same_rack, excluded)
            if shape in self.missed:
                fit_miss = fit_miss or t
                continue
            p = self.cap.place(
                job.request, t, spread=spread, same_rack=job.same_rack, excluded=excluded
            )
            if p is None:
                self.missed.add(shape)
                fit_miss = fit_miss or t
                continue
            borrowing = not cls.beyond_quota and not self.quota.within_nominal(job.project, c)
            if not cls.beyond_quota:
                self.quota.add(job.project, c)
            self.admit.append(Decision(job.job_id, p, borrowing, limit))
            self.explained.clear()
            self._releases.append((self.now + limit, p))
            return None
        made_room = self.try_preemption(job, kind, spread, excluded)
        if made_room is not None:
            return made_room
        if fit_miss is None:
            assert quota_miss is not None
            return Reason.QUOTA, quota_miss.message, None
        return self.blocked(job, fit_miss, spread, excluded, limit)

    def blocked(
        self, job: PendingJob, t: str, spread: bool, excluded: frozenset[str], limit: float
    ) -> tuple[Reason, str, float | None]:
        """``job`` passed quota on type ``t`` but does not fit: reserve, fence, explain."""
        req = job.request
        key = (t, req, spread, job.same_rack, excluded)
        why = self.explained.get(key)
        if why is None:
            why = self.explained[key] = self._why_blocked(req, t, spread, job.same_rack, excluded)
        reason, message, holder = why
        if holder is not None:
            when = holder.start_at - self.now
            return (
                reason,
                f"{message}, which starts in {when:.0f}s; this job's time limit "
                f"({limit:.0f}s) runs past that",
                None,
            )
        if reason is Reason.PRIORITY:
            return reason, message, None
        if not self.policy.backfill.enabled:
            self.blocks.add_fence(job.job_id, self._partition(job, t))
            return reason, message, None
        if len(self.blocks.reservations) >= self.policy.backfill.reservations:
            return reason, message, None
        r = earliest_start(
            self.cap,
            job.job_id,
            req,
            t,
            self.releases(),
            self.now,
            spread=spread,
            same_rack=job.same_rack,
            excluded=self.blocks.reserved_nodes(),
        )
        if r is None:
            return reason, message, None
        self.blocks.add_reservation(r)
        return reason, f"{message}; reserved {', '.join(r.nodes)}", r.start_at

    def _why_blocked(
        self, req: Request, t: str, spread: bool, same_rack: bool, excluded: frozenset[str]
    ) -> tuple[Reason, str, Reservation | None]:
        """Why ``req`` does not fit on type ``t``: a reservation or fence ahead of it (with
        the reservation), or capacity. Cached per shape until the next admission."""
        if excluded:
            free_anyway = self.cap.place(req, t, spread=spread, same_rack=same_rack, commit=False)
            if free_anyway is not None:
                nodes = frozenset(n.node for n in free_anyway.nodes) & excluded
                holder = next((self.blocks.holder(n) for n in sorted(nodes)), None)
                if holder is not None:
                    return (
                        Reason.RESERVED,
                        f"free capacity is reserved for job {holder.job_id}",
                        holder,
                    )
                fenced_by = self.blocks.fence_holder(nodes)
                if fenced_by is not None:
                    return (
                        Reason.PRIORITY,
                        f"job {fenced_by} waits ahead of it for these nodes"
                        + ("" if self.policy.backfill.enabled else " (no backfill)"),
                        None,
                    )
        reason, message = explain.capacity(self.cap, req, t, same_rack, excluded)
        return reason, message, None

    def _partition(self, job: PendingJob, t: str) -> frozenset[str]:
        return self.partition(t if job.request.accelerators else "")

    def partition(self, t: str) -> frozenset[str]:
        """The nodes of accelerator type ``t`` ("": every node, for CPU jobs)."""
        nodes = self._partitions.get(t)
        if nodes is None:
            nodes = self._partitions[t] = frozenset(
                n for n, f in self.cap.free.items() if not t or f.node.accelerator_type == t
            )
        return nodes

    def try_preemption(
        self, job: PendingJob, kind: Kind, spread: bool, excluded: frozenset[str]
    ) -> Waiting | None:
        pol = self.policy.preemption
        cls = kind.cls
        if not pol.enabled or cls.beyond_quota or self.attempts <= 0:
            return None
        self.attempts -= 1
        if self.victim_index is None:
            self.victim_index = preemption.VictimIndex(list(self.s.running), self.policy)
        index = self.victim_index
        for t, c in zip(kind.types, kind.charges, strict=True):
            in_nominal = self.quota.within_nominal(job.project, c)
            pool = index.candidates(job, cls, in_nominal, self.quota, t)
            if not pool:
                continue
            found = preemption.find_victims(
                job,
                cls,
                t,
                c,
                pool,
                self.cap,
                self.quota,
                self.policy,
                spread=spread,
                excluded=excluded,
                stopping=index.stopping,
            )
            if found is None:
                continue
            return self._preempt(job, found)
        return None

    def _preempt(
        self, job: PendingJob, found: preemption.Victims
    ) -> tuple[Reason, str, float | None]:
        grace = 0.0
        for v in found.stop:
            vcls = self.policy.of_class(v.priority_class)
            grace = max(grace, vcls.grace_s)
            why = self._victim_reason(v, job)
            self.preempt.append(Preemption(v.job_id, job.job_id, why, vcls.grace_s))
        # Mark the victims stopping for the rest of the pass, and keep their nodes for this job.
        assert self.victim_index is not None
        self.victim_index.stopping.update(v.job_id for v in found.stop)
        nodes = frozenset(n.node for v in (*found.stop, *found.wait) for n in v.placement.nodes)
        self.blocks.add_fence(job.job_id, nodes)
        if found.stop:
            names = ", ".join(v.job_id for v in found.stop)
            message = (
                f"stopping {len(found.stop)} job(s) ({names}) to make room; they get up to "
                f"{grace:.0f}s to checkpoint and exit"
            )
        else:
            names = ", ".join(v.job_id for v in found.wait)
            message = f"waiting for preempted job(s) {names} to exit"
        return Reason.PREEMPTING, message, None

    def _victim_reason(self, v: RunningJob, job: PendingJob) -> str:
        vcls = self.policy.of_class(v.priority_class)
        if vcls.beyond_quota:
            return f"opportunistic job gives way to job {job.job_id} of project {job.project}"
        if v.project == job.project:
            return f"{v.priority_class} job gives way to a {job.priority_class} job {job.job_id}"
        return (
            f"project {v.project} borrowed quota that project {job.project} needs back "
            f"for job {job.job_id}"
        )


class Planner:
    """``plan`` with a memory: the queue's groups, and what each group asks, are kept from
    one pass to the next, so a pass regroups only the jobs that changed. Gives exactly what
    ``plan`` gives for every snapshot; the controller (and the simulator) keep one for their
    lifetime."""

    def __init__(self, *, thorough: bool = False) -> None:
        self._index = QueueIndex()
        self.thorough = thorough
        # What a group asks depends on the policy and the accelerators up (per type).
        self._kinds: dict[Group, Kind] = {}
        self._kinds_for: tuple[object, dict[str, int]] | None = None

    def plan(self, snapshot: Snapshot) -> Plan:
        groups = self._index.sync(snapshot.queue, snapshot.policy.ordering)
        one = _Pass(snapshot, self.thorough)
        kinds_for = (snapshot.policy, one.cap.total_devices)
        if (
            self._kinds_for is None
            or self._kinds_for[0] is not kinds_for[0]
            or self._kinds_for[1] != kinds_for[1]
        ):
            self._kinds, self._kinds_for = {}, kinds_for
        kinds = {g: k for g in groups if (k := self._kinds.get(g)) is not None}
        result = one.run(groups, kinds)
        self._kinds = kinds
        return result


def plan(snapshot: Snapshot) -> Plan:
    """Decisions for this snapshot: admit, preempt, reserve, and why the rest waits."""
    return Planner().plan(snapshot)
