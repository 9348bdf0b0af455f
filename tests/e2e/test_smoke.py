from __future__ import annotations

import json

from tests.server_process import ServerProcess


def test_job_runs_and_its_output_reaches_aidc_logs(server: ServerProcess) -> None:
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
    logs = server.cli("logs", job_id)
    assert logs.stdout == "hello from aidc\n"
    assert (server.home / "jobs" / job_id / "work" / "result.txt").read_text() == "data\n"
