"""The queue's groups: kept in sync from pass to pass, and ranked as the pass ranks them."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.policy import Ordering, preset
from aidc.scheduler.ordering import Ranker, SortKey
from aidc.scheduler.queue_index import Group, QueueIndex
from aidc.scheduler.snapshot import PendingJob
from tests.unit.scheduler.build import pending

job_fields = st.tuples(
    st.sampled_from(["p1", "p2"]),
    st.sampled_from(["normal", "interactive", "opportunistic"]),
    st.sampled_from([1, 2, 8]),
    st.sampled_from([0.0, 5.0, 10.0]),  # submitted at: ties are common
    st.sampled_from([None, 60.0, 600.0]),
    st.sampled_from([0, 0, 100]),  # nice
)


def make(n: int, fields: tuple[str, str, int, float, float | None, int]) -> PendingJob:
    project, cls, gpus, at, limit, nice = fields
    return pending(
        f"j{n:03d}", gpus, project=project, cls=cls, at=at, limit=limit, seq=n % 3, nice=nice
    )


def grouping(groups: list[Group]) -> set[tuple[str, ...]]:
    """Each group as its jobs' ids in the group's order."""
    return {tuple(j.job_id for j in g.jobs) for g in groups}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 30), st.one_of(st.none(), job_fields)),
            max_size=12,
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(list(Ordering)),
)
def test_an_index_kept_between_passes_groups_like_a_fresh_one(
    steps: list[list[tuple[int, tuple[str, str, int, float, float | None, int] | None]]],
    ordering: Ordering,
) -> None:
    """Jobs come, go, and change (a new object under the same id); after every step the kept
    index holds exactly the queue, grouped and ordered as a new index would."""
    kept = QueueIndex()
    queue: dict[str, PendingJob] = {}
    for step in steps:
        for n, fields in step:
            jid = f"j{n:03d}"
            if fields is None:
                queue.pop(jid, None)
            else:
                queue[jid] = make(n, fields)
        snapshot = tuple(queue.values())
        assert grouping(kept.sync(snapshot, ordering)) == grouping(
            QueueIndex().sync(snapshot, ordering)
        )
        assert sum(len(g.jobs) for g in kept.sync(snapshot, ordering)) == len(queue)


def test_a_changed_job_moves_to_its_new_group() -> None:
    index = QueueIndex()
    a = pending("a", 1, project="p1")
    index.sync((a,), Ordering.PRIORITY)
    moved = replace(a, project="p2")
    (group,) = index.sync((moved,), Ordering.PRIORITY)
    assert group.jobs == [moved]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(job_fields, min_size=1, max_size=10),
    st.sampled_from(["fairshare", "fifo", "sjf"]),
    st.floats(0, 1),
    st.sampled_from([0.0, 3.0, 10.0, 1e7]),
)
def test_ranked_agrees_with_key_and_priority(
    fields: list[tuple[str, str, int, float, float | None, int]],
    name: str,
    fair_share: float,
    now: float,
) -> None:
    """``ranked`` inlines the arithmetic of ``key`` and ``priority`` for speed: it must give
    the very same keys and priorities, and within a group keys follow submission order."""
    policy = preset(name)
    for group in QueueIndex().sync(
        tuple(make(n, f) for n, f in enumerate(fields)), policy.ordering
    ):
        ranker = Ranker(policy, now, 16)
        rank = ranker.ranking(ranker.standing(group.jobs[0]), fair_share, 1)
        keys: list[SortKey] = []
        priorities: list[float] = []
        rank.ranked(group.jobs, keys, priorities)
        assert keys == [rank.key(j) for j in group.jobs]
        assert priorities == [rank.priority(j) for j in group.jobs]
        assert keys == sorted(keys)
        assert all(0.0 <= p <= 1.0 for p in priorities)
