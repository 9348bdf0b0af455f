"""What every engine must do, run against each one for real (local; Slurm with real
daemons; Ray with a real local cluster). The rig is in conftest.py; a backend per engine
in backend_<kind>.py. A test here names only behaviour a user relies on, never an engine."""

from __future__ import annotations

import sys
import time

from aidc.core.job_states import JobState
from aidc.services import jobs
from tests.conformance.conftest import GRACE_S, Rig

TERMINAL = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST)

# Rank 0 listens on MASTER_PORT and waits for every other rank to connect and say its rank;
# every rank prints its env first. Exits 0 only if all ranks reached rank 0.
RANKS = """
import os, socket, sys, time
env = {k: os.environ.get(k, "") for k in
       ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "AIDC_NODE")}
print("rank-env " + " ".join(f"{k}={v}" for k, v in sorted(env.items())), flush=True)
rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
addr, port = env["MASTER_ADDR"], int(env["MASTER_PORT"])
if rank == 0:
    srv = socket.create_server(("", port))
    srv.settimeout(60)
    seen = set()
    while len(seen) < world - 1:
        conn, _ = srv.accept()
        seen.add(int(conn.recv(16).decode()))
        conn.close()
    print(f"rank 0 reached by {sorted(seen)}", flush=True)
else:
    deadline = time.time() + 60
    while True:
        try:
            with socket.create_connection((addr, port), timeout=2) as c:
                c.sendall(str(rank).encode())
            break
        except OSError:
            if time.time() > deadline:
                sys.exit(f"rank {rank} could not reach rank 0 at {addr}:{port}")
            time.sleep(0.2)
"""


def test_success_with_output_in_logs(rig: Rig) -> None:
    job = rig.submit(script='echo "hello from $AIDC_JOB_ID"\necho "to stderr" >&2\n')
    view = rig.wait_state(job, JobState.SUCCEEDED, JobState.FAILED, JobState.LOST)
    assert view.state is JobState.SUCCEEDED, view.state_reason
    assert view.exit_code == 0
    log = rig.log(job)
    assert f"hello from {job}" in log and "to stderr" in log


def test_failure_reports_the_exit_code(rig: Rig) -> None:
    job = rig.submit(script="echo about to fail\nexit 3\n")
    view = rig.wait_state(job, *TERMINAL)
    assert view.state is JobState.FAILED
    assert view.exit_code == 3
    assert "3" in view.state_reason
    assert "about to fail" in rig.log(job)


def test_cancel_stops_a_job_that_ignores_sigterm_within_grace(rig: Rig) -> None:
    marker = rig.tmp / "got-term"
    job = rig.submit(script=f"trap 'touch {marker}' TERM\nwhile true; do sleep 0.2; done\n")
    rig.wait_state(job, JobState.RUNNING)
    time.sleep(1.0)  # the trap is set up
    asked = time.monotonic()
    jobs.cancel_job(rig.center, rig.tenants.alice, job)
    view = rig.wait_state(job, *TERMINAL, timeout=GRACE_S + 10)
    took = time.monotonic() - asked
    assert view.state is JobState.CANCELLED, view.state_reason
    assert marker.exists(), "the job was never sent SIGTERM before the kill"
    assert took <= GRACE_S + 10 + rig.backend.margin_s


def test_time_limit_ends_the_job(rig: Rig) -> None:
    job = rig.submit(command=["sleep", "300"], time_limit_s=3)
    rig.wait_state(job, JobState.RUNNING)
    view = rig.wait_state(job, *TERMINAL, timeout=3 + GRACE_S + 15)
    assert view.state is JobState.FAILED
    assert "time limit" in view.state_reason


def test_concurrent_jobs_see_disjoint_accelerators(rig: Rig) -> None:
    script = 'echo "devices=$CUDA_VISIBLE_DEVICES node=$AIDC_NODE"\nsleep 3\n'
    first = rig.submit(script=script, accelerators=1)
    second = rig.submit(script=script, accelerators=1)
    for job in (first, second):
        rig.wait_state(job, JobState.RUNNING)
    # Both run at once (pack places them on the same node).
    assert all(rig.job(j).state is JobState.RUNNING for j in (first, second))
    seen = []
    for job in (first, second):
        view = rig.wait_state(job, *TERMINAL)
        assert view.state is JobState.SUCCEEDED, view.state_reason
        line = next(x for x in rig.log(job).splitlines() if x.startswith("devices="))
        devices, node = (part.split("=", 1)[1] for part in line.split())
        assert devices, f"job {job} saw no GPU: {line}"
        seen.append((node, set(devices.split(","))))
    (node_a, dev_a), (node_b, dev_b) = seen
    assert node_a == node_b, "pack put the two jobs on different nodes"
    assert not dev_a & dev_b, f"two jobs on {node_a} share GPUs: {dev_a} and {dev_b}"


def test_two_node_job_every_rank_has_its_env_and_reaches_rank_zero(rig: Rig) -> None:
    script = f"exec {sys.executable} - <<'EOF'\n{RANKS}\nEOF\n"
    job = rig.submit(script=script, nodes=2, accelerators=1)
    view = rig.wait_state(job, *TERMINAL, timeout=90)
    log = rig.log(job)
    assert view.state is JobState.SUCCEEDED, f"{view.state_reason}\n{log}"
    envs = [
        dict(kv.split("=", 1) for kv in line.split()[1:])
        for line in log.splitlines()
        if line.startswith("rank-env ")
    ]
    assert sorted(e["RANK"] for e in envs) == ["0", "1"]
    assert {e["WORLD_SIZE"] for e in envs} == {"2"}
    assert {e["LOCAL_RANK"] for e in envs} == {"0"}
    assert len({e["MASTER_ADDR"] for e in envs}) == 1 and len({e["MASTER_PORT"] for e in envs}) == 1
    assert len({e["AIDC_NODE"] for e in envs}) == 2, "both ranks ran on one node"
    assert "rank 0 reached by [1]" in log


def test_restarted_controller_readopts_running_jobs_without_starting_them_twice(
    rig: Rig,
) -> None:
    starts = rig.tmp / "starts"
    job = rig.submit(script=f'echo "start $AIDC_ATTEMPT" >> {starts}\nsleep 6\necho done\n')
    rig.wait_state(job, JobState.RUNNING)
    rig.restart_controller()
    view = rig.wait_state(job, *TERMINAL, timeout=60)
    assert view.state is JobState.SUCCEEDED, view.state_reason
    assert starts.read_text().splitlines() == ["start 1"]
    assert view.attempt == 1
    assert "done" in rig.log(job)


def test_jobs_of_an_engine_that_went_away_end_lost_with_the_reason(rig: Rig) -> None:
    job = rig.submit(command=["sleep", "300"])
    rig.wait_state(job, JobState.RUNNING)
    rig.restart_controller(engine_lost_after_s=3.0)
    try:
        rig.backend.break_engine()
        view = rig.wait_state(job, *TERMINAL, timeout=60)
    finally:
        rig.backend.repair_engine()
    assert view.state in (JobState.LOST, JobState.FAILED)
    assert view.state_reason, "no reason given"
