from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.server_process import ServerProcess


@pytest.mark.parametrize("workers", ["1", "3"])
def test_job_runs_with_any_number_of_api_workers(
    start_server: Callable[..., ServerProcess], workers: str
) -> None:
    server = start_server(workers=int(workers))
    r = server.cli(
        "submit",
        "-p",
        "hanbit-vision",
        "--wait",
        "--",
        "sh",
        "-c",
        "echo hello from aidc; echo data > result.txt",
    )
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.split()[0]
    job = json.loads(server.cli("job", job_id, "--json").stdout)
    assert job["state"] == "SUCCEEDED"
    assert [e["to_state"] for e in job["events"]] == [
        "QUEUED",
        "ADMITTED",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert server.cli("logs", job_id).stdout == "hello from aidc\n"
    assert (server.home / "jobs" / job_id / "work" / "result.txt").read_text() == "data\n"
    # Every worker answers for the same center.
    ids = {json.loads(server.cli("jobs", "--json").stdout)[0]["id"] for _ in range(6)}
    assert ids == {job_id}
