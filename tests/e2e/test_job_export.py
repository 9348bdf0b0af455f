"""Acceptance: the job history export through the real server, API and CLI, replayed."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx

from aidc.core.policy import preset
from aidc.sim import simulate
from aidc.sim.traces import LoadReport, NodeShape, aidc_history
from tests.e2e.test_job_lifecycle import submit, wait_state
from tests.server_process import ServerProcess
from tests.unit.scheduler.build import gpu_node


def test_export_is_scoped_to_the_caller_and_replays(server: ServerProcess, tmp_path: Path) -> None:
    done = submit(server, "--gpus", "1", "--time", "10m", "--", "true")
    assert wait_state(server, done, {"SUCCEEDED"})["state"] == "SUCCEEDED"
    waiting = submit(server, "--gpus", "1", "--", "sleep", "300")

    mine = tmp_path / "minji.csv"
    r = server.cli("jobs", "export", "--out", str(mine))
    assert r.returncode == 0, r.stderr
    assert "wrote 2 jobs" in r.stdout and "1 replayable" in r.stdout
    rows = {row["job_id"]: row for row in csv.DictReader(mine.open())}
    assert set(rows) == {done, waiting}
    assert rows[done]["project"] == "hanbit-vision"
    assert (rows[done]["accelerators_per_node"], rows[done]["time_limit_s"]) == ("1", "600.0")

    # Another organisation's admin gets none of them, even naming the project.
    other = {"Authorization": f"Bearer {server.tokens['seojun']}"}
    for params in ({}, {"project": "hanbit-vision"}):
        theirs = httpx.get(f"{server.url}/v1/jobs/export", headers=other, params=params)
        assert theirs.status_code == 200, theirs.text
        assert theirs.headers["content-type"].startswith("text/csv")
        ids = [row["job_id"] for row in csv.DictReader(theirs.text.splitlines())]
        assert done not in ids and waiting not in ids
    r = server.cli("jobs", "export", "--out", str(tmp_path / "seojun.csv"), user="seojun")
    assert r.returncode == 0 and done not in (tmp_path / "seojun.csv").read_text()
    # The operator sees every project's.
    everything = tmp_path / "admin.csv"
    assert server.cli("jobs", "export", "-o", str(everything), user="admin").returncode == 0
    assert {done, waiting} <= {row["job_id"] for row in csv.DictReader(everything.open())}
    assert httpx.get(f"{server.url}/v1/jobs/export").status_code == 401

    report = LoadReport()
    jobs = list(aidc_history(mine, NodeShape(), report=report))
    assert [j.job_id for j in jobs] == [done]
    assert jobs[0].time_limit_s == 600 and jobs[0].request.accelerators == 1
    assert report.skipped_total == 1
    result = simulate((gpu_node("n1", 4),), jobs, preset("fifo"))
    assert [o.job_id for o in result.jobs] == [done] and result.skipped == []
