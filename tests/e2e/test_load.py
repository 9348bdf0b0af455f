"""Acceptance (reduced): 8 concurrent clients submit and poll 150 jobs against one real
server with no errors, no lost job and no "database is locked"; ``make bench`` runs
``benchmarks/load.py`` at 64 clients x 10,000 jobs."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.server_process import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load import run_load

# Several API worker processes writing one database at once: what this module checks.
API_WORKERS = 2


def test_concurrent_submit_and_poll_lose_nothing(server: ServerProcess) -> None:
    figures = run_load(server, clients=8, jobs=150)
    print(figures)
    assert figures["errors"] == 0, figures["first_errors"]
    assert figures["lost_jobs"] == 0
    assert figures["database_locked"] == 0
