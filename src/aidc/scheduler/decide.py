"""Deciding one job at a time: the state of a pass and ``consider``.

``Decider`` holds what a pass changes as it goes (free capacity, quota use, reservations and
fences, admissions, preemptions) and decides for one job at a time (``consider``): admit it
on the first acceptable type that quota and placement allow, else try preemption, else say
why it waits (reserving or fencing as backfill says). ``plan`` walks the queue and asks it.
"""

from __future__ import annotations

from collections.abc import Collection

from aidc.core import accelerators
from aidc.core.policy import PlacementStrategy, Policy, TypeChoice
from aidc.core.resources import Placement, Request
from aidc.scheduler import explain, preemption
from aidc.scheduler.backfill import Blocks, earliest_start
from aidc.scheduler.placement import CPU, Capacity
from aidc.scheduler.quota import (
    Charges,
    QuotaMiss,
    QuotaState,
    charges_for,
)
from aidc.scheduler.snapshot import (
    Decision,
    PendingJob,
    Preemption,
    Reason,
    Reservation,
    RunningJob,
    Snapshot,
)
from aidc.scheduler.standing import Standing, fresh_charges
from aidc.scheduler.waiting import Kind, Waiting


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


class Decider:
    """The mutable state of one pass, and the decision for one job in it."""

    def __init__(
        self, s: Snapshot, thorough: bool = False, standing: Standing | None = None
    ) -> None:
        self.s = s
        # Consider every job in turn (for tests: the same decisions, the slow way).
        self.thorough = thorough
        self.policy = s.policy
        self.now = s.now
        # Projects with running jobs.
        self.running_projects: Collection[str]
        if standing is None:
            self.cap = Capacity(s.nodes, s.running, self.policy.placement.topology_label)
            beyond = frozenset(n for n, c in self.policy.classes.items() if c.beyond_quota)
            self.quota = QuotaState(s.quotas, s.nodes, fresh_charges(s.running, beyond))
            self.running_projects = {r.project for r in s.running}
        else:
            # Kept from earlier passes and brought up to date (``standing``).
            self.cap = standing.sync(s)
            self.quota = standing.quota(s)
            self.running_projects = standing.projects.keys()
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

    def _generation(self) -> int:
        """Grows whenever the pass's state does (admission, preemption, reservation, fence)."""
        return (
            len(self.admit) + len(self.preempt) + len(self.blocks.reservations) + self.blocks.growth
        )

    def may_preempt(self) -> bool:
        return self.policy.preemption.enabled and self.attempts > 0

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
            self.blocks.add_fence(job.job_id, self.partition(t if req.accelerators else ""))
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
