"""The ledger's pure arithmetic: periods cut at UTC midnights, per-type shares and amounts."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from aidc.core.metering import DAY_S, amounts, capacity, day_periods, shares
from aidc.core.resources import Node, NodePlacement, NodeState, Placement
from aidc.core.usage_math import placement_rate

times = st.floats(0, 4e9, allow_nan=False)


@given(start=times, length=st.floats(0, 10 * DAY_S, allow_nan=False))
def test_periods_cover_the_span_exactly_and_never_span_a_day(start: float, length: float) -> None:
    end = start + length
    periods = day_periods(start, end)
    if end <= start:
        assert periods == []
        return
    assert periods[0][0] == start and periods[-1][1] == end
    for (_, b), (c, _) in itertools.pairwise(periods):
        assert b == c and b % DAY_S == 0
    for a, b in periods:
        # Within the UTC day that ``a`` lies in (ending at most at the next midnight).
        assert a < b <= (math.floor(a / DAY_S) + 1) * DAY_S


def test_a_period_across_midnight_is_cut_there() -> None:
    m = 20_000 * DAY_S
    assert day_periods(m - 10, m + 5) == [(m - 10, m), (m, m + 5)]
    assert day_periods(m, m + DAY_S) == [(m, m + DAY_S)]
    assert day_periods(m, m) == []


node = st.builds(
    NodePlacement,
    node=st.sampled_from(["n1", "n2", "n3"]),
    cpus=st.integers(1, 64),
    memory_mib=st.integers(0, 1 << 20),
    accelerator_type=st.sampled_from(["a100", "h100", "cpu", "rngd", "unknown-gpu"]),
    devices=st.lists(st.integers(0, 7), max_size=8, unique=True).map(tuple),
)


@given(nodes=st.lists(node, min_size=1, max_size=4), seconds=st.floats(0, 1e6))
def test_shares_add_up_to_the_placement(nodes: list[NodePlacement], seconds: float) -> None:
    p = Placement("pool", tuple(nodes))
    got = shares(p)
    assert math.isclose(sum(s.rate for s in got), placement_rate(p), rel_tol=1e-12)
    assert sum(s.cpus for s in got) == sum(n.cpus for n in nodes)
    assert len({s.accelerator_type for s in got}) == len(got)
    for s in got:
        a = amounts(s, seconds)
        assert math.isclose(a.weighted_seconds, s.rate * seconds, rel_tol=1e-12)
        assert a.accelerator_seconds == s.devices * seconds


def test_amounts_of_two_h100_for_an_hour() -> None:
    p = Placement("p", (NodePlacement("n", 8, 4096, "h100", (0, 1)),))
    (s,) = shares(p)
    a = amounts(s, 3600)
    assert (a.accelerator_seconds, a.cpu_seconds, a.memory_gb_seconds) == (7200, 28800, 14400)
    assert math.isclose(a.pf_hours, 2 * 0.989) and a.weighted_seconds == 2 * 2.0 * 3600


def test_capacity_counts_devices_up_per_pool_and_type() -> None:
    nodes = [
        Node("g1", "hpc", 64, 1 << 20, "a100", (0, 1, 2, 3)),
        Node("g2", "hpc", 64, 1 << 20, "a100", (0, 1, 2, 3), state=NodeState.DOWN),
        Node("c1", "hpc", 32, 1 << 18),
    ]
    got = {(c.pool, c.accelerator_type): (c.devices_total, c.devices_up) for c in capacity(nodes)}
    assert got == {("hpc", "a100"): (8, 4), ("hpc", "cpu"): (32, 32)}
