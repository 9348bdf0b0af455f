"""The Ray engine on a real local 2-node Ray cluster (tests/ray_cluster.py): output and
exit codes, GPUs Ray assigns (disjoint), pinning to the scheduler's node, time limit,
cancel and preemption with the engine's grace, recovery by submission id, runs after a
requeue, a 2-node job, inventory, and the head going away (the last test)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, NodeState, Placement
from aidc.engines.base import EngineStatus, EngineUnavailable, LaunchError, LaunchRequest, Outcome
from aidc.engines.ray import RayEngine
from aidc.engines.ray_dev import auth_headers
from aidc.engines.ray_parts import submission_id
from tests import ray_cluster
from tests.conftest import skip_or_fail

GRACE_S = 2.0
# Submit-to-start on this 2-core machine is 3-5 s (driver, ray.init, one actor per rank).
START_S = 20.0


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayEngine]:
    reason = ray_cluster.unavailable()
    if reason:
        skip_or_fail(reason)
    cluster = ray_cluster.ensure()
    home = tmp_path_factory.mktemp("aidc-home")
    e = RayEngine(cluster.address, home / "ray", grace_s=GRACE_S, token_file=cluster.token_file)
    yield e
    e.close()


def request(
    job_id: str,
    script: str,
    nodes: tuple[str, ...] = ("ray-1",),
    gpus: int = 0,
    limit: float = 120,
    attempt: int = 1,
) -> LaunchRequest:
    spec = JobSpec(project="p1", script=script, accelerators=gpus, nodes=len(nodes))
    placement = Placement(
        "cloud", tuple(NodePlacement(n, 1, 512, "a100", tuple(range(gpus))) for n in nodes)
    )
    return LaunchRequest(job_id, "p1", spec, placement, limit, attempt)


def wait_done(engine: RayEngine, handle: dict, timeout: float = START_S + 20) -> EngineStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine.poll(handle)
        if status.outcome is not Outcome.RUNNING:
            return status
        time.sleep(0.2)
    raise AssertionError(f"{handle['submission_id']} still runs after {timeout}s")


def wait_started(handle: dict, text: bytes = b"", timeout: float = START_S) -> None:
    """Until the driver started the ranks (and the log shows ``text``)."""
    deadline = time.monotonic() + timeout
    run_dir = Path(handle["dir"])
    while time.monotonic() < deadline:
        if (run_dir / "started.json").exists() and text in Path(handle["log"]).read_bytes():
            return
        time.sleep(0.1)
    raise AssertionError(f"{handle['submission_id']} did not start within {timeout}s")


def log_of(engine: RayEngine, handle: dict) -> str:
    return engine.read_log(handle, 0, 1 << 20).decode()


def test_inventory_lists_the_nodes_with_their_gpus(engine: RayEngine) -> None:
    nodes = engine.inventory()
    assert [n.name for n in nodes] == ["ray-1", "ray-2"]
    for n in nodes:
        assert n.pool == "cloud" and n.labels["pool"] == "cloud"
        assert n.state is NodeState.UP
        assert n.devices == tuple(range(ray_cluster.GPUS))
        assert n.cpus == ray_cluster.CPUS and n.memory_mib > 0
        assert n.accelerator_type == "a100"


def test_output_exit_codes_and_disjoint_gpus(engine: RayEngine) -> None:
    ok = engine.launch(request("ok", "echo hello from ray; echo to stderr >&2"))
    bad = engine.launch(request("bad", "echo failing; exit 3", nodes=("ray-2",)))
    # Two 1-GPU jobs on one node at once: Ray hands each its own GPU.
    gpu = [
        engine.launch(request(f"gpu{i}", 'echo "cvd=$CUDA_VISIBLE_DEVICES"; sleep 2', gpus=1))
        for i in range(2)
    ]
    s_ok, s_bad = wait_done(engine, ok), wait_done(engine, bad)
    assert (s_ok.outcome, s_ok.exit_code) == (Outcome.SUCCEEDED, 0)
    assert "hello from ray" in log_of(engine, ok) and "to stderr" in log_of(engine, ok)
    assert (s_bad.outcome, s_bad.exit_code, s_bad.reason) == (Outcome.FAILED, 3, "exit code 3")
    assert "failing" in log_of(engine, bad)
    seen = []
    for h in gpu:
        assert wait_done(engine, h).outcome is Outcome.SUCCEEDED
        line = next(x for x in log_of(engine, h).splitlines() if x.startswith("cvd="))
        seen.append(line.removeprefix("cvd="))
    assert all(len(s.split(",")) == 1 and s for s in seen)
    assert seen[0] != seen[1], seen


def test_jobs_run_on_the_nodes_the_scheduler_chose(engine: RayEngine) -> None:
    from ray.job_submission import JobSubmissionClient

    ids = {n.name: n.labels["ray_node_id"] for n in engine.inventory()}
    one = engine.launch(request("pinned", 'echo "node=$AIDC_NODE"', ("ray-2",)))
    two = engine.launch(
        request("pinned2", 'echo "rank=$RANK node=$AIDC_RAY_NODE_ID"', ("ray-2", "ray-1"))
    )
    assert wait_done(engine, one).outcome is Outcome.SUCCEEDED
    assert wait_done(engine, two).outcome is Outcome.SUCCEEDED
    # One node: the Ray Job's driver (which runs the command) is on ray-2.
    client = JobSubmissionClient(engine.address, headers=auth_headers(engine.token_file))
    assert client.get_job_info(one["submission_id"]).driver_node_id == ids["ray-2"]
    assert "node=ray-2" in log_of(engine, one)
    # Two nodes: rank 0 on the first node placed, rank 1 on the second.
    log = log_of(engine, two)
    assert f"rank=0 node={ids['ray-2']}" in log and f"rank=1 node={ids['ray-1']}" in log


def test_time_limit_stops_the_job_as_timeout(engine: RayEngine) -> None:
    h = engine.launch(request("slow", "echo started; sleep 60", limit=2))
    wait_started(h, b"started")
    t0 = time.monotonic()
    status = wait_done(engine, h)
    assert status.outcome is Outcome.TIMEOUT, status
    assert "time limit of 2" in status.reason
    assert time.monotonic() - t0 < 2 + GRACE_S + 2


def test_cancel_and_preempt_with_grace(engine: RayEngine) -> None:
    trap = "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done"
    stubborn = "trap 'echo ignoring TERM' TERM; echo ready; while true; do sleep 0.1; done"
    cancelled = engine.launch(request("cancel-me", trap))
    preempted = engine.launch(request("preempt-me", stubborn, ("ray-2",)))
    wait_started(cancelled, b"ready")
    wait_started(preempted, b"ready")
    t0 = time.monotonic()
    engine.cancel(cancelled)
    engine.preempt(preempted, grace_s=1.0, reason="room for j9")
    s_c = wait_done(engine, cancelled)
    s_p = wait_done(engine, preempted)
    assert time.monotonic() - t0 < GRACE_S + 3
    # Exit 0 within the grace is still a cancel / a preemption.
    assert s_c.outcome is Outcome.CANCELLED and s_c.details["killed"] is False, s_c
    assert "got TERM" in log_of(engine, cancelled)
    assert s_p.outcome is Outcome.PREEMPTED and s_p.details["killed"] is True, s_p
    assert "room for j9" in s_p.reason and "killed after the 1s grace" in s_p.reason
    assert "ignoring TERM" in log_of(engine, preempted)


def test_recover_by_submission_id_and_never_launch_twice(engine: RayEngine) -> None:
    h = engine.launch(request("again", "echo run one"))
    assert h["submission_id"] == submission_id("again", 1) == "aidc-again-1"
    with pytest.raises(LaunchError, match="already launched"):
        engine.launch(request("again", "echo run one"))
    assert engine.recover("again", 1) == h
    assert engine.recover("again") == h
    assert engine.recover("again", 2) is None
    assert engine.recover("never-launched") is None
    assert wait_done(engine, h).outcome is Outcome.SUCCEEDED
    # A requeued run: same log, after a separator; offsets of the first run stay valid.
    first = engine.read_log(h, 0, 1 << 20)
    h2 = engine.launch(request("again", "echo run two; exit 4", attempt=2))
    assert wait_done(engine, h2).exit_code == 4
    assert engine.read_log(h2, 0, len(first)) == first
    assert engine.read_log(h2, len(first), 1 << 20).startswith(b"--- attempt 2 ---\nrun two")
    assert engine.recover("again") == h2


def test_two_node_job_gets_rank_env_and_reaches_rank_0(engine: RayEngine) -> None:
    script = r"""
echo "env rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK node=$AIDC_NODE gpus=$CUDA_VISIBLE_DEVICES"
python3 - <<'EOF'
import os, socket, time
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
if os.environ["RANK"] == "0":
    s = socket.create_server((addr, port))
    s.settimeout(30)
    conn, _ = s.accept()
    print("rank 0 got", conn.recv(100).decode())
else:
    for _ in range(200):
        try:
            socket.create_connection((addr, port), timeout=1).sendall(b"hello from rank 1")
            break
        except OSError:
            time.sleep(0.1)
    print("rank 1 sent")
EOF
"""
    h = engine.launch(request("multi", script, ("ray-1", "ray-2"), gpus=2))
    status = wait_done(engine, h)
    log = log_of(engine, h)
    assert status.outcome is Outcome.SUCCEEDED, (status, log)
    assert "env rank=0 world=2 local=0 node=ray-1 gpus=" in log
    assert "env rank=1 world=2 local=0 node=ray-2 gpus=" in log
    assert "rank 0 got hello from rank 1" in log


def test_a_node_that_is_gone_fails_the_launch(engine: RayEngine) -> None:
    with pytest.raises(LaunchError, match="ray-9"):
        engine.launch(request("nowhere", "true", ("ray-9",)))


def test_a_run_ray_cannot_place_is_abandoned_and_failed(engine: RayEngine) -> None:
    """More GPUs than the node has (aidc's own view would never do this): Ray keeps it
    PENDING forever, so the engine gives up after place_timeout_s and the driver will never
    start it late. Other jobs are not held up (that one runs on the patient engine: on a busy
    machine starting a driver alone can take longer than 2 s)."""
    impatient = RayEngine(
        engine.address, engine.jobs_dir, grace_s=GRACE_S, token_file=engine.token_file,
        place_timeout_s=2,
    )  # fmt: skip
    h = impatient.launch(request("too-big", "echo late", gpus=ray_cluster.GPUS + 1))
    status = wait_done(impatient, h, timeout=20)
    assert status.outcome is Outcome.FAILED and "could not place" in status.reason, status
    assert impatient.poll(h).outcome is Outcome.FAILED
    impatient.close()
    ok = engine.launch(request("small-after", "echo fine", gpus=1))
    assert wait_done(engine, ok).outcome is Outcome.SUCCEEDED


def test_head_gone_is_unavailable_then_lost(engine: RayEngine) -> None:
    """Last: it stops the cluster (and brings it back for later tests)."""
    h = engine.launch(request("orphan", "echo up; sleep 60"))
    wait_started(h, b"up")
    ray_cluster.crash()
    try:
        time.sleep(0.6)  # past the list_jobs cache
        with pytest.raises(EngineUnavailable, match="does not answer"):
            engine.poll(h)
        with pytest.raises(EngineUnavailable):
            engine.inventory()
    finally:
        # Back in the same folder on the same ports: the engine's address still works.
        assert ray_cluster.ensure().address == engine.address
    time.sleep(0.6)
    status = engine.poll(h)
    assert status.outcome is Outcome.LOST and "no longer knows" in status.reason
