"""Acceptance: SIGKILLs of the server at random moments lose no job and run none twice, and
the ledger charges what ran. Reduced here (AIDC_CRASH_JOBS, AIDC_CRASH_KILLS);
``make crash-test`` runs 500 jobs and 6 kills."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.crash_run import run

JOBS = int(os.environ.get("AIDC_CRASH_JOBS", "60"))
KILLS = int(os.environ.get("AIDC_CRASH_KILLS", "3"))


# A marker wins over --timeout: long enough for `make crash-test`'s 500 jobs on a busy host.
@pytest.mark.timeout(max(600, JOBS * 3))
def test_random_sigkills_lose_nothing_and_start_nothing_twice(db_url: str, tmp_path: Path) -> None:
    report = run(tmp_path / "home", db_url, jobs=JOBS, kills=KILLS)
    print(f"\n{JOBS} jobs, {KILLS} kills, {report.seconds:.0f} s: {dict(report.states)}")
    assert not report.problems, "\n".join(report.problems[:40])
    assert sum(report.states.values()) == JOBS
    # The local engine's supervisors outlive the server: every job gets to run.
    assert report.states["SUCCEEDED"] == JOBS, dict(report.states)
