"""Acceptance: jobs through the real server process and the real CLI."""

from __future__ import annotations

import json
import os
import time

from tests.server_process import ServerProcess


def job_json(server: ServerProcess, job_id: str, user: str = "minji") -> dict:
    r = server.cli("job", job_id, "--json", user=user)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_state(
    server: ServerProcess,
    job_id: str,
    states: set[str],
    timeout: float = 20.0,
    user: str = "minji",
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = job_json(server, job_id, user=user)
        if job["state"] in states or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def submit(server: ServerProcess, *args: str) -> str:
    r = server.cli("submit", "-p", "hanbit-vision", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def exit_record(server: ServerProcess, job_id: str) -> dict:
    """The supervisor's exit.json of the job's first run: outcome, stop_s, killed."""
    return json.loads((server.home / "jobs" / job_id / "attempt-1" / "exit.json").read_text())


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_successful_job_writes_its_file_and_output_shows_in_logs(server: ServerProcess) -> None:
    r = server.cli(
        "submit",
        "-p",
        "hanbit-vision",
        "--gpus",
        "1",
        "--gpu-type",
        "a100",
        "--time",
        "1m",
        "--wait",
        "--",
        "sh",
        "-c",
        "echo hello from aidc; echo oops >&2; echo data > result.txt",
    )
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.split()[0]
    job = job_json(server, job_id)
    assert job["state"] == "SUCCEEDED"
    assert job["exit_code"] == 0
    assert [e["to_state"] for e in job["events"]] == [
        "QUEUED",
        "ADMITTED",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert server.cli("logs", job_id).stdout == "hello from aidc\noops\n"
    assert (server.home / "jobs" / job_id / "work" / "result.txt").read_text() == "data\n"


def test_failing_command_ends_failed_with_its_exit_code(server: ServerProcess) -> None:
    r = server.cli(
        "submit", "-p", "hanbit-vision", "--wait", "--", "sh", "-c", "echo about to fail; exit 3"
    )
    assert r.returncode == 3
    job_id = r.stdout.split()[0]
    job = job_json(server, job_id)
    assert (job["state"], job["exit_code"], job["state_reason"]) == ("FAILED", 3, "exit code 3")
    assert "about to fail" in server.cli("logs", job_id).stdout


def test_missing_program_fails_with_a_reason(server: ServerProcess) -> None:
    job_id = submit(server, "--", "no-such-program-xyz")
    job = wait_state(server, job_id, {"FAILED"})
    assert job["state"] == "FAILED"
    assert "no-such-program-xyz" in job["state_reason"]


def test_cancel_stops_a_sleeping_job_and_its_whole_process_group(server: ServerProcess) -> None:
    # Two sleeps: the shell's child and a background grandchild, both in the job's group.
    job_id = submit(server, "--", "sh", "-c", "sleep 300 & sleep 300")
    assert wait_state(server, job_id, {"RUNNING"})["state"] == "RUNNING"
    shim = json.loads((server.home / "jobs" / job_id / "attempt-1" / "shim.json").read_text())
    assert group_alive(shim["pgid"])
    r = server.cli("cancel", job_id)
    assert r.returncode == 0, r.stderr
    job = wait_state(server, job_id, {"CANCELLED"}, timeout=10)
    assert job["state"] == "CANCELLED"
    # The supervisor's own account (not wall time around CLI calls, which a loaded machine
    # stretches): SIGTERM ended the group before the grace, without SIGKILL.
    stopped = exit_record(server, job_id)
    assert stopped["killed"] is False and stopped["stop_s"] < 2.0, stopped
    assert not group_alive(shim["pgid"])
    assert "cancel requested by minji" in [e["reason"] for e in job["events"]]


def test_cancel_kills_a_job_that_ignores_sigterm_after_the_grace(server: ServerProcess) -> None:
    job_id = submit(server, "--", "sh", "-c", "trap '' TERM; sleep 300 & sleep 300; wait")
    assert wait_state(server, job_id, {"RUNNING"})["state"] == "RUNNING"
    shim = json.loads((server.home / "jobs" / job_id / "attempt-1" / "shim.json").read_text())
    assert server.cli("cancel", job_id).returncode == 0
    job = wait_state(server, job_id, {"CANCELLED"}, timeout=10)
    assert job["state"] == "CANCELLED"
    stopped = exit_record(server, job_id)
    assert stopped["killed"] is True and 2.0 <= stopped["stop_s"] <= 2.0 + 1.0, stopped
    assert not group_alive(shim["pgid"])
    assert "SIGKILL" in server.cli("logs", job_id).stdout


def test_queued_job_is_cancelled_at_once(server: ServerProcess) -> None:
    blocker = submit(server, "--gpus", "4", "--", "sleep", "300")
    waiting = submit(server, "--gpus", "1", "--", "true")
    assert job_json(server, waiting)["state"] == "QUEUED"
    r = server.cli("cancel", waiting)
    assert "CANCELLED" in r.stdout
    assert job_json(server, waiting)["state"] == "CANCELLED"
    server.cli("cancel", blocker)
    assert wait_state(server, blocker, {"CANCELLED"})["state"] == "CANCELLED"


def test_job_past_its_time_limit_fails_with_timeout(server: ServerProcess) -> None:
    t0 = time.monotonic()
    job_id = submit(server, "--time", "2s", "--", "sleep", "300")
    job = wait_state(server, job_id, {"FAILED"}, timeout=15)
    assert job["state"] == "FAILED"
    assert job["state_reason"].startswith("timeout")
    assert time.monotonic() - t0 < 2 + 2.0 + 3  # limit + grace + slack for a busy machine


def test_script_job_runs_with_bash(server: ServerProcess, tmp_path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("set -e\nfor i in 1 2 3; do echo step $i; done\n")
    job_id = submit(server, "--script", str(script))
    assert wait_state(server, job_id, {"SUCCEEDED", "FAILED"})["state"] == "SUCCEEDED"
    assert server.cli("logs", job_id).stdout == "step 1\nstep 2\nstep 3\n"


def test_logs_follow_streams_until_the_job_ends(server: ServerProcess) -> None:
    job_id = submit(server, "--", "sh", "-c", "echo one; sleep 1; echo two")
    r = server.cli("logs", "-f", job_id, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "one\ntwo\n"
    assert job_json(server, job_id)["state"] == "SUCCEEDED"


def test_cancel_many_at_once_from_the_cli(server: ServerProcess) -> None:
    running = submit(server, "--gpus", "4", "--", "sleep", "300")
    assert wait_state(server, running, {"RUNNING"})["state"] == "RUNNING"
    queued = [submit(server, "--gpus", "1", "--", "true") for _ in range(2)]
    r = server.cli("cancel", running, *queued, "0123456789abcdef")
    # The unknown id is the user's mistake: exit 2, but the others are cancelled anyway.
    assert r.returncode == 2, r.stderr
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert lines[running] == "stopping"
    assert [lines[q] for q in queued] == ["cancelled", "cancelled"]
    assert lines["0123456789abcdef"].startswith("not found")
    assert wait_state(server, running, {"CANCELLED"})["state"] == "CANCELLED"
