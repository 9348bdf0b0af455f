"""Properties of the validation harness's arithmetic (aidc.core.validation_stats)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aidc.core import validation_stats as vs

latencies = st.lists(
    st.floats(min_value=0.0, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=300,
)
ps = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(latencies, ps)
def test_a_percentile_is_one_of_the_values(values: list[float], p: float) -> None:
    v = vs.percentile(values, p)
    assert v in values
    assert min(values) <= v <= max(values)


@given(latencies, ps, ps)
def test_percentiles_are_monotone_in_p(values: list[float], p: float, q: float) -> None:
    lo, hi = sorted((p, q))
    assert vs.percentile(values, lo) <= vs.percentile(values, hi)


@given(latencies, st.sampled_from([50, 90, 95, 99, 99.9, 100]))
def test_nearest_rank_definition(values: list[float], p: float) -> None:
    # The definition in integers: the smallest rank r with r / n >= p / 100.
    n = len(values)
    tenths = round(p * 10)
    rank = max(1, -(-tenths * n // 1000))
    assert vs.percentile(values, p) == sorted(values)[rank - 1]
    assert vs.percentiles(values, [p])[p] == sorted(values)[rank - 1]


def test_percentile_examples() -> None:
    values = [float(i) for i in range(1, 1001)]  # 1..1000
    assert vs.percentile(values, 99.9) == 999.0  # 0.999 * 1000 is 999 exactly, not 1000
    assert vs.percentile(values, 0) == 1.0
    assert vs.percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError):
        vs.percentile([], 50)
    with pytest.raises(ValueError):
        vs.percentile([1.0], 101)


@given(latencies)
def test_mean_matches_numpy(values: list[float]) -> None:
    assert vs.mean(values) == pytest.approx(float(np.mean(values)), rel=1e-12, abs=1e-12)


@st.composite
def scores_and_labels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    classes = draw(st.integers(1, 12))
    samples = draw(st.integers(0, 40))
    # Few distinct values, so that ties are common.
    scores = draw(
        hnp.arrays(np.float32, (samples, classes), elements=st.sampled_from([-1.0, 0.0, 2.5]))
    )
    labels = draw(hnp.arrays(np.int64, samples, elements=st.integers(0, classes - 1)))
    return scores, labels


@given(scores_and_labels())
def test_top_k_equals_a_stable_sort(case: tuple[np.ndarray, np.ndarray]) -> None:
    scores, labels = case
    classes = scores.shape[1]
    order = np.argsort(-scores, axis=1, kind="stable")
    previous = -1
    for k in range(1, classes + 1):
        expected = int(sum(label in row[:k] for row, label in zip(order, labels, strict=True)))
        got = vs.top_k_accuracy(scores, labels, k)
        assert got.correct == expected
        assert got.samples == len(labels)
        assert got.correct >= previous  # monotone in k
        previous = got.correct
    assert previous == len(labels)  # k = classes: every label is in the top k
    top1 = int(np.count_nonzero(np.argmax(scores, axis=1) == labels)) if len(labels) else 0
    assert vs.top_k_accuracy(scores, labels, 1).correct == top1


def test_top_k_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="samples, classes"):
        vs.label_ranks(np.zeros(3, np.float32), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="do not match"):
        vs.label_ranks(np.zeros((3, 2), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="outside"):
        vs.label_ranks(np.zeros((1, 2), np.float32), np.array([2]))


@given(st.integers(1, 5000))
def test_batch_candidates_double_up_to_the_limit(max_batch: int) -> None:
    c = vs.batch_candidates(max_batch)
    assert c[0] == 1 and c[-1] == max_batch
    assert all(a < b for a, b in itertools.pairwise(c))
    assert all(b == 2 * a for a, b in itertools.pairwise(c[:-1]))


@given(st.integers(1, 4096), st.lists(st.floats(1.0, 1e6), min_size=1, max_size=20))
def test_the_search_is_bounded_and_stops_on_a_small_gain(
    max_batch: int, throughputs: list[float]
) -> None:
    tried: list[tuple[int, float]] = []
    feed = iter(throughputs)
    while (b := vs.next_batch(tried, max_batch)) is not None:
        assert 1 <= b <= max_batch
        assert not tried or b > tried[-1][0]
        t = next(feed, None)
        if t is None:
            break
        tried.append((b, t))
    assert len(tried) <= len(vs.batch_candidates(max_batch))
    if b is None and len(tried) >= 2 and tried[-1][0] != max_batch:
        # It stopped early: the last step gained less than 5 % over the best before it.
        assert tried[-1][1] < max(t for _, t in tried[:-1]) * 1.05
    for i in range(2, len(tried)):
        # Every step that it went on after gained at least 5 %.
        assert tried[i - 1][1] >= max(t for _, t in tried[: i - 1]) * 1.05
    best = vs.best_batch(tried)
    assert dict(tried)[best] == max(t for _, t in tried)


def test_search_example() -> None:
    tried = [(1, 100.0), (2, 190.0), (4, 300.0), (8, 310.0)]
    assert vs.next_batch(tried[:3], 256) == 8
    assert vs.next_batch(tried, 256) is None  # 310 < 300 * 1.05
    assert vs.best_batch(tried) == 8
    assert vs.best_batch([(1, 5.0), (2, 5.0)]) == 1
    assert vs.next_batch([(1, 1.0), (2, 9.0)], 2) is None
