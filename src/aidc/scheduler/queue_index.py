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

    __slots__ = ("_sorted", "key", "members")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.members: set[PendingJob] = set()
        self._sorted: list[PendingJob] | None = None

    def remove(self, job: PendingJob) -> None:
        self.members.remove(job)
        self._sorted = None

    @property
    def jobs(self) -> list[PendingJob]:
        if self._sorted is None:
            self._sorted = sorted(self.members, key=in_group_order)
        return self._sorted


def group_key(job: PendingJob, ordering: Ordering) -> Hashable:
    key = (
        job.project,
        job.priority_class,
        job.request,
        job.nice,
        job.spread,
        job.same_rack,
    )
    # sjf orders by time limit, so it must be alike within a group.
    return (*key, job.time_limit_s) if ordering is Ordering.SJF else key


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
            for job in queue:
                self._add(job, ordering)
        else:
            now = set(queue)
            had = jobs.keys()
            for gone in had - now:
                jobs.pop(gone).remove(gone)
            new = now - had
            if new:
                for job in queue:
                    if job in new:
                        self._add(job, ordering)
        if len(self._groups) > 2 * max(1, len(jobs)):
            self._groups = {k: g for k, g in self._groups.items() if g.members}
        return [g for g in self._groups.values() if g.members]

    def _add(self, job: PendingJob, ordering: Ordering) -> None:
        key = group_key(job, ordering)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(key)
        group.members.add(job)
        group._sorted = None
        self._jobs[job] = group
