"""The local engine with real processes: env, devices, cancel, preemption, time limit,
recovery, and runs after a requeue."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement
from aidc.engines.base import EngineStatus, LaunchError, LaunchRequest, Outcome
from aidc.engines.local import LocalEngine
from tests.conftest import local_node


def request(
    job_id: str, devices: tuple[int, ...] = (), attempt: int = 1, **spec: object
) -> LaunchRequest:
    fields = {"project": "p1", "command": ["true"], **spec}
    return LaunchRequest(
        job_id,
        "p1",
        JobSpec.model_validate(fields),
        Placement("local", (NodePlacement("node-1", 1, 1024, "a100", devices),)),
        time_limit_s=float(spec.get("time_limit_s", 3600)),  # type: ignore[arg-type]
        attempt=attempt,
    )


def wait_done(engine: LocalEngine, handle: dict, timeout: float = 10) -> EngineStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine.poll(handle)
        if status.outcome is not Outcome.RUNNING:
            return status
        time.sleep(0.05)
    raise AssertionError("job did not finish")


@pytest.fixture
def engine(tmp_path: Path) -> LocalEngine:
    return LocalEngine(tmp_path / "home", [local_node()], grace_s=1.0)


def test_job_sees_exactly_its_devices_and_no_server_secrets(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDC_DATABASE_URL", "postgresql://secret@db/aidc")
    monkeypatch.setenv("SOME_SERVER_SECRET", "hunter2")
    h = engine.launch(request("j1", (1, 3), command=["env"], env={"MY_VAR": "yes"}))
    assert wait_done(engine, h).outcome is Outcome.SUCCEEDED
    env = dict(line.split("=", 1) for line in engine.read_log(h, 0, 1 << 20).decode().splitlines())
    assert env["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert env["AIDC_VISIBLE_DEVICES"] == "1,3"
    assert env["AIDC_JOB_ID"] == "j1" and env["AIDC_ACCELERATORS"] == "2"
    assert env["MY_VAR"] == "yes"
    assert "AIDC_DATABASE_URL" not in env and "SOME_SERVER_SECRET" not in env


def test_job_without_accelerators_sees_no_gpus(engine: LocalEngine) -> None:
    h = engine.launch(request("j2", (), command=["sh", "-c", "echo [$CUDA_VISIBLE_DEVICES]"]))
    wait_done(engine, h)
    assert engine.read_log(h, 0, 100) == b"[]\n"


def test_exit_codes_and_signals_are_reported(engine: LocalEngine) -> None:
    h = engine.launch(request("j3", command=["sh", "-c", "exit 42"]))
    assert wait_done(engine, h) == EngineStatus(Outcome.FAILED, 42, "exit code 42")
    h = engine.launch(request("j4", command=["sh", "-c", "kill -9 $$"]))
    status = wait_done(engine, h)
    assert (status.outcome, status.reason) == (Outcome.FAILED, "killed by signal SIGKILL")


def test_a_job_is_never_launched_twice(engine: LocalEngine) -> None:
    engine.launch(request("j5"))
    with pytest.raises(LaunchError, match="already launched"):
        engine.launch(request("j5"))


def test_missing_workdir_is_a_launch_error(engine: LocalEngine) -> None:
    with pytest.raises(LaunchError, match="does not exist"):
        engine.launch(request("j6", workdir="/nonexistent/dir"))


def test_time_limit_stops_the_job(engine: LocalEngine) -> None:
    t0 = time.monotonic()
    h = engine.launch(request("j7", command=["sleep", "60"], time_limit_s=1))
    status = wait_done(engine, h)
    assert status.outcome is Outcome.TIMEOUT
    assert time.monotonic() - t0 < 1 + 1.0 + 2


def test_cancel_sigterm_then_sigkill_after_grace(engine: LocalEngine) -> None:
    h = engine.launch(request("j8", command=["sh", "-c", "trap '' TERM; sleep 60"]))
    time.sleep(0.3)
    t0 = time.monotonic()
    engine.cancel(h)
    status = wait_done(engine, h)
    assert status.outcome is Outcome.CANCELLED
    assert 1.0 <= time.monotonic() - t0 < 1.0 + 1.0


def test_a_new_engine_instance_recovers_and_polls_running_jobs(
    engine: LocalEngine, tmp_path: Path
) -> None:
    h = engine.launch(request("j9", command=["sleep", "1"]))
    time.sleep(0.2)
    again = LocalEngine(tmp_path / "home", [local_node()], grace_s=1.0)  # a restarted server
    recovered = again.recover("j9")
    assert recovered is not None and recovered["pid"] == h["pid"]
    assert again.poll(recovered).outcome is Outcome.RUNNING
    assert wait_done(again, recovered).outcome is Outcome.SUCCEEDED
    assert again.recover("never-launched") is None


def test_a_killed_supervisor_means_lost(engine: LocalEngine) -> None:
    h = engine.launch(request("j10", command=["sleep", "60"]))
    time.sleep(0.3)
    os.kill(h["pid"], signal.SIGKILL)
    status = wait_done(engine, h)
    assert status.outcome is Outcome.LOST
    assert "supervisor" in status.reason


def test_a_reused_pid_is_not_mistaken_for_the_job(engine: LocalEngine) -> None:
    h = engine.launch(request("j11", command=["sleep", "60"]))
    time.sleep(0.2)
    fake = {**h, "create_time": h["create_time"] - 1000}  # same pid, different process
    (Path(h["dir"]) / "exit.json").unlink(missing_ok=True)
    assert engine.poll(fake).outcome is Outcome.LOST
    engine.cancel(h)
    wait_done(engine, h)


def wait_log(engine: LocalEngine, handle: dict, text: bytes, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in engine.read_log(handle, 0, 1 << 20):
        assert time.monotonic() < deadline, f"{text!r} never appeared in the log"
        time.sleep(0.02)


def test_preempt_sends_sigterm_and_the_job_can_save_its_work(engine: LocalEngine) -> None:
    trap = "echo saved > $AIDC_CHECKPOINT_DIR/state; exit 0"
    script = f"trap '{trap}' TERM; echo ready; sleep 60 & wait"
    h = engine.launch(request("p1", command=["sh", "-c", script]))
    wait_log(engine, h, b"ready")
    t0 = time.monotonic()
    engine.preempt(h, grace_s=2, reason="preempted to make room for job big")
    status = wait_done(engine, h)
    # Exit code 0 within the grace is still a preemption: it was told to stop.
    assert (status.outcome, status.exit_code) == (Outcome.PREEMPTED, 0)
    assert time.monotonic() - t0 < 2
    assert "make room for job big" in status.reason and status.details["killed"] is False
    assert status.details["stop_s"] < 2
    saved = engine.checkpoints_dir / "p1" / "state"
    assert saved.read_text() == "saved\n"
    assert b"[aidc] preempted to make room for job big" in engine.read_log(h, 0, 1 << 20)


def test_preempt_kills_a_job_that_ignores_sigterm_after_this_calls_grace(
    engine: LocalEngine,
) -> None:
    h = engine.launch(request("p2", command=["sh", "-c", "trap '' TERM; echo ready; sleep 60"]))
    wait_log(engine, h, b"ready")
    t0 = time.monotonic()
    engine.preempt(h, grace_s=2)  # not the engine's cancel grace of 1 s
    status = wait_done(engine, h)
    assert status.outcome is Outcome.PREEMPTED and status.details["killed"] is True
    assert 2.0 <= time.monotonic() - t0 < 2.0 + 1.0


def test_a_job_that_ended_before_the_preemption_keeps_its_outcome(engine: LocalEngine) -> None:
    h = engine.launch(request("p3", command=["sh", "-c", "exit 3"]))
    assert wait_done(engine, h).outcome is Outcome.FAILED
    engine.preempt(h, grace_s=1)
    assert engine.poll(h) == EngineStatus(Outcome.FAILED, 3, "exit code 3")


def test_a_requeued_job_runs_again_with_its_checkpoints_workdir_and_log(
    engine: LocalEngine,
) -> None:
    script = (
        "echo attempt=$AIDC_ATTEMPT ckpt=$AIDC_CHECKPOINT_DIR pwd=$(pwd); "
        'cat "$AIDC_CHECKPOINT_DIR/from-1" 2>/dev/null; '
        "echo written-by-$AIDC_ATTEMPT > $AIDC_CHECKPOINT_DIR/from-$AIDC_ATTEMPT; "
        "touch here-$AIDC_ATTEMPT"
    )
    h1 = engine.launch(request("r1", command=["sh", "-c", script]))
    wait_done(engine, h1)
    h2 = engine.launch(request("r1", attempt=2, command=["sh", "-c", script]))
    assert wait_done(engine, h2).outcome is Outcome.SUCCEEDED
    assert h1["dir"] != h2["dir"] and h1["log"] == h2["log"]
    ckpt = engine.checkpoints_dir / "r1"
    work = engine.jobs_dir / "r1" / "work"
    log = engine.read_log(h2, 0, 1 << 20).decode().splitlines()
    assert log == [
        f"attempt=1 ckpt={ckpt} pwd={work}",
        "--- attempt 2 ---",
        f"attempt=2 ckpt={ckpt} pwd={work}",
        "written-by-1",  # attempt 2 sees attempt 1's checkpoint
    ]
    assert ckpt.stat().st_mode & 0o777 == 0o700
    assert (work / "here-1").exists() and (work / "here-2").exists()
    # recover finds each run, the latest by default; no run starts twice.
    assert engine.recover("r1", 1)["dir"] == h1["dir"]  # type: ignore[index]
    assert engine.recover("r1")["dir"] == h2["dir"]  # type: ignore[index]
    assert engine.recover("r1", 3) is None
    with pytest.raises(LaunchError, match="attempt 2 was already launched"):
        engine.launch(request("r1", attempt=2))


@pytest.mark.parametrize("how", ["preempt", "cancel"])
def test_a_stop_right_after_launch_is_not_lost(engine: LocalEngine, how: str) -> None:
    # The supervisor may not handle SIGTERM yet: it must still stop the job, not die of it.
    h = engine.launch(request(f"early-{how}", command=["sleep", "60"]))
    if how == "preempt":
        engine.preempt(h, grace_s=1)
    else:
        engine.cancel(h)
    status = wait_done(engine, h)
    assert status.outcome is (Outcome.PREEMPTED if how == "preempt" else Outcome.CANCELLED)
    assert status.exit_code == -signal.SIGTERM


def two_node_request(job_id: str, **spec: object) -> LaunchRequest:
    fields = {"project": "p1", "nodes": 2, **spec}
    nodes = tuple(NodePlacement(f"node-{i}", 1, 1024, "a100", (0,)) for i in (1, 2))
    return LaunchRequest(
        job_id, "p1", JobSpec.model_validate(fields), Placement("local", nodes), 60.0
    )


@pytest.fixture
def two_nodes(tmp_path: Path) -> LocalEngine:
    return LocalEngine(tmp_path / "home", [local_node("node-1"), local_node("node-2")], 1.0)


def test_a_multi_node_job_runs_one_rank_per_node_with_torchrun_env(
    two_nodes: LocalEngine,
) -> None:
    script = 'echo "rank=$RANK world=$WORLD_SIZE local=$LOCAL_RANK node=$AIDC_NODE '
    script += 'master=$MASTER_ADDR:$MASTER_PORT"\n'
    h = two_nodes.launch(two_node_request("m1", script=script))
    assert wait_done(two_nodes, h).outcome is Outcome.SUCCEEDED
    lines = sorted(two_nodes.read_log(h, 0, 1 << 16).decode().splitlines())
    assert [line.split()[:4] for line in lines] == [
        ["rank=0", "world=2", "local=0", "node=node-1"],
        ["rank=1", "world=2", "local=0", "node=node-2"],
    ]
    masters = {line.split()[4] for line in lines}
    assert len(masters) == 1 and masters.pop().startswith("master=127.0.0.1:")


def test_the_first_failing_rank_ends_every_rank(two_nodes: LocalEngine) -> None:
    script = '[ "$RANK" = 1 ] && exit 3\nsleep 60\n'
    started = time.monotonic()
    h = two_nodes.launch(two_node_request("m2", script=script))
    status = wait_done(two_nodes, h, timeout=20)
    assert (status.outcome, status.exit_code) == (Outcome.FAILED, 3)
    assert status.reason == "rank 1: exit code 3"
    assert time.monotonic() - started < 15, "rank 0 was left to sleep"


def test_a_placement_on_a_node_this_host_does_not_have_is_refused(
    two_nodes: LocalEngine,
) -> None:
    job = request("m3")
    bad = Placement("local", (NodePlacement("elsewhere", 1, 1024, "a100", ()),))
    with pytest.raises(LaunchError, match="elsewhere is not a node of this host"):
        two_nodes.launch(LaunchRequest("m3", "p1", job.spec, bad, 60.0))
