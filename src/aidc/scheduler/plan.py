"""One planning pass: ``plan(snapshot) -> Plan``. Pure and deterministic.

For each pending job, in the order ``ordering`` gives (``decide.Decider.consider``):
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

from aidc.core.policy import Ordering
from aidc.scheduler import ordering
from aidc.scheduler.decide import Decider
from aidc.scheduler.placement import CPU
from aidc.scheduler.queue_index import Group, QueueIndex, in_group_order
from aidc.scheduler.quota import QuotaMiss
from aidc.scheduler.snapshot import (
    Explained,
    Explanation,
    PendingJob,
    Plan,
    Reason,
    Snapshot,
)
from aidc.scheduler.standing import Standing
from aidc.scheduler.waiting import Kind, Waiting, Walk, explain_waiting


class _Pass(Decider):
    """One pass: the walk over the queue's groups; ``plan`` is its only user."""

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


class Planner:
    """``plan`` with a memory: the queue's groups, what each group asks, and the free
    capacity (``standing``) are kept from one pass to the next, so a pass works on what
    changed. Gives exactly what ``plan`` gives for every snapshot; the controller (and the
    simulator) keep one for their lifetime. A plan's explanations (``Plan.waiting``) must be
    read before the next pass: they expire then."""

    def __init__(self, *, thorough: bool = False) -> None:
        self._index = QueueIndex()
        self._standing = Standing()
        self.thorough = thorough
        # What a group asks depends on the policy and the accelerators up (per type).
        self._kinds: dict[Group, Kind] = {}
        self._kinds_for: tuple[object, dict[str, int]] | None = None

    def plan(self, snapshot: Snapshot) -> Plan:
        groups = self._index.sync(snapshot.queue, snapshot.policy.ordering)
        one = _Pass(snapshot, self.thorough, self._standing)
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
        self._standing.kept(one.cap, result)
        return result


def plan(snapshot: Snapshot) -> Plan:
    """Decisions for this snapshot: admit, preempt, reserve, and why the rest waits."""
    return Planner().plan(snapshot)
