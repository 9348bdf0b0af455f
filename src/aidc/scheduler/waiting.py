"""Why the jobs left waiting wait: each group's outcomes in a pass, turned into explanations.

A pass (``plan``) records, per group of alike jobs, from which job on which outcome held.
``explain_waiting`` turns that into one ``Explanation`` per waiting job with its position
overall and in its project, in the pass's order. It runs when the plan's ``waiting`` is first
read, not during the pass, so that deciding stays cheap when nobody needs every position.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import count

from aidc.core.policy import ClassPolicy
from aidc.scheduler.ordering import Ranking, SortKey
from aidc.scheduler.quota import Charges
from aidc.scheduler.snapshot import Explanation, PendingJob, Reason

# (reason, message, estimated start)
Waiting = tuple[Reason, str, float | None]


class Kind:
    """What the jobs of a group ask, under one policy and the accelerator types up."""

    __slots__ = ("charges", "cls", "dead", "standing", "types")

    def __init__(
        self,
        cls: ClassPolicy,
        types: tuple[str, ...],
        charges: tuple[Charges, ...],
        dead: Waiting | None,
        standing: tuple[float, float],
    ) -> None:
        self.cls = cls
        self.types = types  # acceptable accelerator types, best first
        self.charges = charges  # what each type would count against quota
        # Why they all wait whatever the pass does (no node of their types is up).
        self.dead = dead
        self.standing = standing  # ordering.Ranker.standing


class Walk:
    """One group's way through one pass."""

    __slots__ = ("admitted", "bound", "i", "jobs", "kind", "outcomes", "rank", "segments")

    def __init__(self, jobs: list[PendingJob], rank: Ranking, kind: Kind) -> None:
        self.jobs = jobs
        self.rank = rank
        self.kind = kind
        # time limit -> (the pass's generation, outcome): jobs alike wait alike until the
        # pass's state changes.
        self.outcomes: dict[float | None, tuple[int, Waiting]] | None = None
        self.i = 0  # the job considered next
        # (index, outcome): from jobs[index] on, those not admitted wait for this.
        self.segments: list[tuple[int, Waiting]] = []
        # The jobs that end after this wait too (-inf: all of them; inf: not known).
        self.bound = math.inf
        # Whether a job got in after one before it waited.
        self.admitted = False


def explain_waiting(walks: list[Walk], admitted: set[str]) -> tuple[Explanation, ...]:
    """One explanation per waiting job of ``walks``, with its positions."""
    # Parallel lists, not a tuple per job: this runs once for every waiting job.
    keys: list[SortKey] = []
    priorities: list[float] = []
    jobs: list[PendingJob] = []
    outcomes: list[Waiting] = []
    for w in walks:
        segments = w.segments
        for k, (start, waits) in enumerate(segments):
            end = segments[k + 1][0] if k + 1 < len(segments) else len(w.jobs)
            part = w.jobs[start:end]
            if w.admitted:
                part = [j for j in part if j.job_id not in admitted]
            w.rank.ranked(part, keys, priorities)
            jobs.extend(part)
            outcomes.extend([waits] * len(part))
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ranked = [jobs[i] for i in order]
    whys = [outcomes[i] for i in order]
    projects = [j.project for j in ranked]
    places_in = {p: count(1) for p in set(projects)}
    places = [next(places_in[p]) for p in projects]
    # Made as plain tuples: Explanation is a named tuple, and this is one per waiting job.
    make = partial(tuple.__new__, Explanation)
    return tuple(
        map(
            make,
            zip(
                [j.job_id for j in ranked],
                [w[0] for w in whys],
                [w[1] for w in whys],
                range(1, len(order) + 1),
                places,
                [round(priorities[i], 6) for i in order],
                [w[2] for w in whys],
                strict=True,
            ),
        )
    )
