"""One planning pass: ``plan(snapshot) -> Plan``. Pure and deterministic.

For each pending job, in the order ``ordering`` gives:
1. pick the acceptable accelerator types in policy order (cheapest billing weight first);
2. for the first type where the quota allows it (``quota``) and a placement exists
   (``placement``) without touching nodes reserved for a job ahead (``backfill``): admit;
3. otherwise try preemption (``preemption``): stop the fewest, cheapest jobs that make room;
4. otherwise the job waits; the first blocked jobs get reservations (EASY backfill), or fence
   their partition when backfill is off; ``explain`` says why in numbers.
"""

from __future__ import annotations

from aidc.core import accelerators
from aidc.core.policy import ClassPolicy, PlacementStrategy, Policy, TypeChoice
from aidc.core.resources import Placement, Request
from aidc.scheduler import explain, ordering, preemption
from aidc.scheduler.backfill import Blocks, earliest_start
from aidc.scheduler.placement import CPU, Capacity
from aidc.scheduler.quota import Charges, QuotaMiss, QuotaState, charges_for, placement_charges
from aidc.scheduler.snapshot import (
    Decision,
    Explanation,
    PendingJob,
    Plan,
    Preemption,
    Reason,
    Reservation,
    RunningJob,
    Snapshot,
)


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


Waiting = tuple[Reason, str, float | None]


class _Pass:
    """The mutable state of one pass; ``plan`` is its only user."""

    def __init__(self, s: Snapshot) -> None:
        self.s = s
        self.policy = s.policy
        self.now = s.now
        self.cap = Capacity(s.nodes, s.running, self.policy.placement.topology_label)
        self.quota = QuotaState(s.quotas, s.nodes, self._charged_usage(s.running))
        self.blocks = Blocks()
        self.admit: list[Decision] = []
        self.preempt: list[Preemption] = []
        self.waiting: list[Explanation] = []
        # Ends of what holds capacity, for reservations: running jobs and this pass's admits.
        self.releases: list[tuple[float, Placement]] = [
            (s.now if r.stopping else r.ends_by, r.placement) for r in s.running
        ]
        self.victim_index: preemption.VictimIndex | None = None
        self.attempts = self.policy.preemption.max_attempts_per_pass
        self.missed: set[tuple[object, ...]] = set()
        # Why a shape waits; cleared by every admission, which changes the free numbers.
        self.explained: dict[tuple[object, ...], tuple[Reason, str, Reservation | None]] = {}
        self._partitions: dict[str, frozenset[str]] = {}
        self._types: dict[tuple[tuple[str, ...], float, bool], tuple[str, ...]] = {}

    def types_for(self, job: PendingJob) -> tuple[str, ...]:
        req = job.request
        key = (req.accelerator_types, req.min_accelerator_memory_gb, bool(req.accelerators))
        types = self._types.get(key)
        if types is None:
            types = self._types[key] = acceptable_types(job, self.cap, self.policy)
        return types

    def _charged_usage(self, running: tuple[RunningJob, ...]) -> dict[str, Charges]:
        usage: dict[str, Charges] = {}
        for r in running:
            if self.policy.of_class(r.priority_class).beyond_quota:
                continue
            mine = usage.setdefault(r.project, {})
            for k, v in placement_charges(r.placement).items():
                mine[k] = mine.get(k, 0.0) + v
        return usage

    def order(self) -> tuple[list[PendingJob], dict[str, float]]:
        s = self.s
        shares = {p.name: p.shares for p in s.quotas.projects}
        projects = {j.project for j in s.queue} | {r.project for r in s.running} | set(shares)
        fair = ordering.fair_share_factors(s.usage, shares, projects)
        prio = ordering.priorities(s.queue, self.policy, self.now, fair, self.cap.total_devices)

        tiers: dict[tuple[str, str, Request], int] = {}

        def tier(j: PendingJob) -> int:
            key = (j.project, j.priority_class, j.request)
            found = tiers.get(key)
            if found is None:
                found = tiers[key] = self._tier(j)
            return found

        key = ordering.sort_key(self.policy, prio, tier)
        return sorted(s.queue, key=lambda j: (*key(j), j.job_id)), prio

    def _tier(self, j: PendingJob) -> int:
        if self.policy.of_class(j.priority_class).beyond_quota:
            return 2
        types = self.types_for(j)
        if not types:
            return 1
        return 0 if self.quota.within_nominal(j.project, charges_for(j.request, types[0])) else 1

    def _generation(self) -> tuple[int, int, int, int]:
        """Changes whenever the pass's state does (admission, preemption, reservation, fence)."""
        return (
            len(self.admit),
            len(self.preempt),
            len(self.blocks.reservations),
            len(self.blocks.fences),
        )

    def run(self) -> Plan:
        queue, prio = self.order()
        per_project: dict[str, int] = {}
        position = 0
        # Jobs alike (project, class, request, options) wait for the same reason until the
        # pass's state changes; a long queue is mostly such repeats.
        outcomes: dict[tuple[object, ...], tuple[tuple[int, int, int, int], Waiting]] = {}
        for job in queue:
            key = (
                job.project,
                job.priority_class,
                job.request,
                job.spread,
                job.same_rack,
                job.time_limit_s,
            )
            generation = self._generation()
            hit = outcomes.get(key)
            if hit is not None and hit[0] == generation:
                waits: Waiting | None = hit[1]
            else:
                waits = self.consider(job)
                if waits is not None and self._generation() == generation:
                    outcomes[key] = (generation, waits)
            if waits is None:
                continue
            # Places in line count the jobs still waiting, as a user reads a queue.
            position += 1
            per_project[job.project] = per_project.get(job.project, 0) + 1
            reason, message, start = waits
            self.waiting.append(
                Explanation(
                    job.job_id,
                    reason,
                    message,
                    position,
                    per_project[job.project],
                    round(prio[job.job_id], 6),
                    start,
                )
            )
        return Plan(
            admit=tuple(self.admit),
            preempt=tuple(self.preempt),
            reservations=tuple(self.blocks.reservations),
            waiting=tuple(self.waiting),
        )

    def consider(self, job: PendingJob) -> tuple[Reason, str, float | None] | None:
        """Admit ``job`` or say why it waits."""
        cls = self.policy.of_class(job.priority_class)
        limit = float(job.time_limit_s or cls.default_time_limit_s)
        types = self.types_for(job)
        if not types:
            asked = " or ".join(job.request.accelerator_types) or "accelerator"
            return Reason.NO_NODES, f"no {asked} node is up now", None
        spread = (
            job.spread
            if job.spread is not None
            else self.policy.placement.strategy is PlacementStrategy.SPREAD
        )
        excluded = self.blocks.excluded_for(self.now + limit)
        quota_miss: QuotaMiss | None = None
        fit_miss: str | None = None
        for t in types:
            c = charges_for(job.request, t)
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
            self.releases.append((self.now + limit, p))
            return None
        made_room = self.try_preemption(job, cls, types, spread, excluded)
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
            self.releases,
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
        key = t if job.request.accelerators else ""
        nodes = self._partitions.get(key)
        if nodes is None:
            nodes = self._partitions[key] = frozenset(
                n for n, f in self.cap.free.items() if not key or f.node.accelerator_type == t
            )
        return nodes

    def try_preemption(
        self,
        job: PendingJob,
        cls: ClassPolicy,
        types: tuple[str, ...],
        spread: bool,
        excluded: frozenset[str],
    ) -> tuple[Reason, str, float | None] | None:
        pol = self.policy.preemption
        if not pol.enabled or cls.beyond_quota or self.attempts <= 0:
            return None
        self.attempts -= 1
        if self.victim_index is None:
            self.victim_index = preemption.VictimIndex(list(self.s.running), self.policy)
        index = self.victim_index
        for t in types:
            c = charges_for(job.request, t)
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


def plan(snapshot: Snapshot) -> Plan:
    """Decisions for this snapshot: admit, preempt, reserve, and why the rest waits."""
    return _Pass(snapshot).run()
