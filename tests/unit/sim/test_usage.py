"""The simulator's running sums of fair-share usage equal the controller's job-by-job sum."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.usage_math import decay, run_contribution
from aidc.sim.usage import VirtualUsage

DAY = 86400.0


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, float, float, float]]:
    """Runs: (project, rate, start, end), ends at or after starts, over a few weeks."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        start = draw(st.floats(0, 30 * DAY))
        length = draw(st.floats(0, 10 * DAY))
        out.append(
            (
                draw(st.sampled_from("abc")),
                draw(st.sampled_from([1.0, 2.0, 8.0])),
                start,
                start + length,
            )
        )
    return out


def by_hand(runs: list[tuple[str, float, float, float]], now: float, h: float) -> dict[str, float]:
    """As services.usage reads it: ended runs folded in as they end, decayed to ``now``, plus
    each running job's part so far."""
    out: dict[str, float] = {}
    for project, rate, start, end in runs:
        if start > now:
            continue
        if end <= now:
            part = decay(run_contribution(rate, start, end, end, h), now - end, h)
        else:
            part = run_contribution(rate, start, now, now, h)
        out[project] = out.get(project, 0.0) + part
    return out


@settings(max_examples=200, deadline=None)
@given(timelines(), st.sampled_from([7 * DAY, 1 * DAY, math.inf]), st.floats(0, 45 * DAY))
def test_running_sums_equal_the_job_by_job_sum(
    runs: list[tuple[str, float, float, float]], h: float, now: float
) -> None:
    usage = VirtualUsage(h)
    # A run starts before it ends, even in the same instant (a run of no length).
    events = sorted(
        [(start, 0, i) for i, (_, _, start, _) in enumerate(runs)]
        + [(end, 1, i) for i, (_, _, _, end) in enumerate(runs)]
    )
    for at, kind, i in events:
        if at > now:
            break
        project, rate, start, end = runs[i]
        if kind == 0:
            usage.started(project, rate, at)
        else:
            usage.ended(project, rate, start, end)
    got = usage.read(now)
    want = by_hand(runs, now, h)
    assert set(got) == set(want)
    for project, value in want.items():
        assert math.isclose(got.get(project, 0.0), value, rel_tol=1e-9, abs_tol=1e-6), project
