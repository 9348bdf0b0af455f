"""The local engine with real processes: env, devices, cancel, time limit, recovery."""

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


def request(job_id: str, devices: tuple[int, ...] = (), **spec: object) -> LaunchRequest:
    fields = {"project": "p1", "command": ["true"], **spec}
    return LaunchRequest(
        job_id,
        "p1",
        JobSpec.model_validate(fields),
        Placement("local", (NodePlacement("node-1", 1, 1024, "a100", devices),)),
        time_limit_s=float(spec.get("time_limit_s", 3600)),  # type: ignore[arg-type]
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
