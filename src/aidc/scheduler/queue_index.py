"""The queue as groups of alike jobs, kept between planning passes.

Jobs alike in everything the scheduler reads except their place in line (project, class,
request, nice, spread, same rack; with ``sjf`` also the time limit) form a ``Group``. Within a
group the order never changes: priority differs only by age, so it is submission order
(submitted_at, seq, job id) under every policy. A pass therefore walks group heads instead of
sorting the whole queue, and stops looking at a group once its next jobs are bound to wait.

``QueueIndex`` keeps the groups from one pass to the next and only regroups the jobs that
came, went or changed since (a ``PendingJob`` is immutable and compared by identity: the
same object is the same job), so a pass over a long, mostly unchanged queue costs a few set
operations.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from operator import attrgetter

from aidc.core.policy import Ordering
from aidc.scheduler.snapshot import PendingJob

# Submission order: the order within a group.
in_group_order = attrgetter("submitted_at", "seq", "job_id")


class Group:
    """Alike pending jobs, in the order the scheduler considers them."""

    __slots__ = ("_in_order", "_last", "_sorted", "members")

    def __init__(self) -> None:
        # Insertion-ordered; ``_in_order`` while every job came after the one before it.
        self.members: dict[PendingJob, None] = {}
        self._in_order = True
        self._last: PendingJob | None = None
        self._sorted: list[PendingJob] | None = None

    def add(self, job: PendingJob) -> None:
        last = self._last
        if last is not None and self._in_order and last.submitted_at >= job.submitted_at:
            self._in_order = in_group_order(last) < in_group_order(job)
        self.members[job] = None
        self._last = job
        self._sorted = None

    def remove(self, job: PendingJob) -> None:
        del self.members[job]
        if job is self._last:
            self._last = next(reversed(self.members), None)
        self._sorted = None

    @property
    def jobs(self) -> list[PendingJob]:
        if self._sorted is None:
            # A queue usually comes in submission order: then there is nothing to sort.
            if self._in_order:
                self._sorted = list(self.members)
            else:
                self._sorted = sorted(self.members, key=in_group_order)
                self.members = dict.fromkeys(self._sorted)
                self._in_order = True
            self._last = self._sorted[-1] if self._sorted else None
        return self._sorted


class QueueIndex:
    """Pending jobs grouped, updated from each pass's queue."""

    def __init__(self) -> None:
        self.ordering: Ordering | None = None
        self._jobs: dict[PendingJob, Group] = {}
        self._groups: dict[Hashable, Group] = {}

    def sync(self, queue: Sequence[PendingJob], ordering: Ordering) -> list[Group]:
        """Make the index hold exactly ``queue`` (job ids are unique); returns its groups."""
        if ordering is not self.ordering:
            # The grouping depends on the ordering (sjf groups by time limit too).
            self._jobs, self._groups, self.ordering = {}, {}, ordering
        jobs = self._jobs
        if not jobs:
            self._add(queue, ordering)
        else:
            now = set(queue)
            had = jobs.keys()
            for gone in had - now:
                jobs.pop(gone).remove(gone)
            new = now - had
            if new:
                self._add([job for job in queue if job in new], ordering)
        if len(self._groups) > 2 * max(1, len(jobs)):
            self._groups = {k: g for k, g in self._groups.items() if g.members}
        return [g for g in self._groups.values() if g.members]

    def _add(self, new: Sequence[PendingJob], ordering: Ordering) -> None:
        groups, index = self._groups, self._jobs
        # sjf orders by time limit, so it must be alike within a group.
        sjf = ordering is Ordering.SJF
        for job in new:
            key: Hashable = (
                job.project,
                job.priority_class,
                job.request,
                job.nice,
                job.spread,
                job.same_rack,
                job.time_limit_s if sjf else None,
            )
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group()
            group.add(job)
            index[job] = group
