"""Fair-share usage on the virtual clock, as the controller's usage source reads it.

The controller reads, per project, the decayed billing-weighted accelerator-seconds of
ended runs plus those of running jobs so far (``services.usage``). Summing the running
jobs one by one at every pass would cost the simulator time in proportion to the jobs
running; the sum is kept per project instead, in closed form: with ``k = ln 2 / h``, a run
at rate ``r`` since ``s`` contributes ``r/k (1 - e^(-k (now - s)))``, so a project's running
jobs contribute ``R/k - e^(-k (now - t0)) W/k`` with ``R`` the sum of their rates and ``W``
the sum of ``r e^(k (s - t0))``. Ended runs are folded in with ``run_contribution`` as
the controller records them, kept as of ``t0`` (times ``e^(k (end - t0))``) so that
reading them at ``now`` is one product instead of decaying every project at every event.
It all equals the controller's job-by-job sum up to rounding (a property test compares
them); with a 7-day half-life the factors stay finite for traces up to 19 years.
"""

from __future__ import annotations

import math

from aidc.core.usage_math import run_contribution


class VirtualUsage:
    def __init__(self, half_life_s: float) -> None:
        self.half_life_s = half_life_s
        self._k = 0.0 if math.isinf(half_life_s) else math.log(2) / half_life_s
        # project -> ended runs' usage as of t0 (as it stands, when nothing decays)
        self._ended: dict[str, float] = {}
        self._t0: float | None = None
        # project -> (running jobs, sum of rates, sum of weighted starts)
        self._running: dict[str, tuple[int, float, float]] = {}

    def _weight(self, start: float) -> float:
        """``e^(k (start - t0))``, or ``start`` itself when nothing decays."""
        if self._k == 0.0:
            return start
        assert self._t0 is not None
        return math.exp(self._k * (start - self._t0))

    def started(self, project: str, rate: float, at: float) -> None:
        if self._t0 is None:
            self._t0 = at
        n, total, weighted = self._running.get(project, (0, 0.0, 0.0))
        self._running[project] = (n + 1, total + rate, weighted + rate * self._weight(at))

    def ended(self, project: str, rate: float, start: float, end: float) -> None:
        """A run of ``project`` that began at ``start`` ended at ``end`` (the clock's now)."""
        n, total, weighted = self._running[project]
        if n == 1:
            del self._running[project]  # exactly nothing left, not a rounding residue
        else:
            self._running[project] = (n - 1, total - rate, weighted - rate * self._weight(start))
        part = run_contribution(rate, start, end, end, self.half_life_s)
        if self._k:
            part *= self._weight(end)
        self._ended[project] = self._ended.get(project, 0.0) + part

    def read(self, now: float) -> dict[str, float]:
        """Project -> usage as of ``now``: ended runs decayed, and running jobs so far."""
        if self._t0 is None:
            return {}
        if self._k == 0.0:
            out = dict(self._ended)
            for project, (_, total, weighted) in self._running.items():
                out[project] = out.get(project, 0.0) + max(0.0, total * now - weighted)
            return out
        back = math.exp(-self._k * (now - self._t0))
        out = {p: v * back for p, v in self._ended.items()}
        for project, (_, total, weighted) in self._running.items():
            part = max(0.0, (total - back * weighted) / self._k)
            out[project] = out.get(project, 0.0) + part
        return out
