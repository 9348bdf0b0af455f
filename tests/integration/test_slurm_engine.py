"""The Slurm engine against a real Slurm 22.05 (scripts/slurm-dev up): placement on the
chosen nodes, GPUs, exit codes, time limit, cancel and preemption, recovery, logs,
inventory, accounts, controller outage, and configuration errors.

The cluster is found through AIDC_SLURM_DIR (default /tmp/aidc-slurm); the tests skip (fail
in CI) when ``scripts/slurm-dev status`` says it is not up.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, NodeState, Placement, Pool
from aidc.engines.base import EngineStatus, EngineUnavailable, LaunchError, LaunchRequest, Outcome
from aidc.engines.registry import EngineConfig, EngineConfigError
from aidc.engines.slurm import SlurmEngine, from_config
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-dev"
SLURM_DIR = Path(os.environ.get("AIDC_SLURM_DIR", "/tmp/aidc-slurm"))
CONF = str(SLURM_DIR / "slurm.conf")
GRACE_S = 1.0
# A run id per test session: Slurm's accounting outlives the test's tmp_path.
RUN = secrets.token_hex(3)


def slurm(*args: str) -> str:
    env = {**os.environ, "SLURM_CONF": CONF}
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout


def dev(command: str) -> None:
    env = {**os.environ, "AIDC_SLURM_DIR": str(SLURM_DIR)}
    subprocess.run([str(SCRIPT), command], env=env, check=True, capture_output=True, timeout=90)


@pytest.fixture(scope="module")
def cluster() -> None:
    env = {**os.environ, "AIDC_SLURM_DIR": str(SLURM_DIR)}
    status = subprocess.run([str(SCRIPT), "status"], env=env, capture_output=True, text=True)
    if status.returncode != 0:
        skip_or_fail(f"no Slurm cluster in {SLURM_DIR} (run scripts/slurm-dev up)")


@pytest.fixture
def engine(cluster: None, tmp_path: Path) -> Iterator[SlurmEngine]:
    e = SlurmEngine(tmp_path / "home", ["hpc"], grace_s=GRACE_S, conf=CONF)
    yield e
    e.close()


def request(
    job_id: str,
    nodes: tuple[str, ...] = ("n1",),
    gpus: int = 0,
    time_limit_s: float = 600,
    attempt: int = 1,
    project: str = "p-slurm",
    **spec: object,
) -> LaunchRequest:
    fields = {"project": project, "command": ["true"], "nodes": len(nodes), **spec}
    return LaunchRequest(
        f"{job_id}-{RUN}",
        project,
        JobSpec.model_validate(fields),
        Placement(
            "hpc", tuple(NodePlacement(n, 1, 512, "a100", tuple(range(gpus))) for n in nodes)
        ),
        time_limit_s=time_limit_s,
        attempt=attempt,
        organisation="org-slurm",
    )


def wait_state(
    engine: SlurmEngine, handle: dict, *, running: bool = False, timeout: float = 20
) -> EngineStatus:
    """Until the job ends (or, with running=True, until its command has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine.poll(handle)
        if running and list(Path(handle["dir"]).glob("rank-*/shim.json")):
            return status
        if not running and status.outcome is not Outcome.RUNNING:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {handle['name']} did not get there: {engine.poll(handle)}")


def log_of(engine: SlurmEngine, handle: dict) -> str:
    return engine.read_log(handle, 0, 1 << 20).decode()


def test_runs_on_the_chosen_nodes_with_its_env_and_no_secrets(
    engine: SlurmEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDC_DATABASE_URL", "postgresql://secret@db/aidc")
    h = engine.launch(request("env", ("n3",), gpus=2, command=["env"], env={"MY_VAR": "yes"}))
    status = wait_state(engine, h)
    assert status.outcome is Outcome.SUCCEEDED, status
    env = dict(line.split("=", 1) for line in log_of(engine, h).splitlines() if "=" in line)
    assert env["SLURMD_NODENAME"] == "n3" and env["AIDC_NODE"] == "n3"
    assert env["MY_VAR"] == "yes" and env["AIDC_ACCELERATORS"] == "2"
    assert len(env["CUDA_VISIBLE_DEVICES"].split(",")) == 2
    assert env["AIDC_VISIBLE_DEVICES"] == env["CUDA_VISIBLE_DEVICES"]
    assert "AIDC_DATABASE_URL" not in env
    shown = json.loads(slurm("sacct", "--json", "-X", "-j", str(h["slurm_job_id"])))
    assert shown["jobs"][0]["nodes"] == "n3"


def test_two_concurrent_jobs_get_disjoint_gpus(engine: SlurmEngine) -> None:
    cmd = ["sh", "-c", "echo $CUDA_VISIBLE_DEVICES; sleep 2"]
    a = engine.launch(request("gpu-a", ("n2",), gpus=2, command=cmd))
    b = engine.launch(request("gpu-b", ("n2",), gpus=2, command=cmd))
    for h in (a, b):
        assert wait_state(engine, h).outcome is Outcome.SUCCEEDED
    da, db = (set(log_of(engine, h).split()[0].split(",")) for h in (a, b))
    assert len(da) == len(db) == 2 and not da & db


def test_exit_codes_signals_and_launch_once(engine: SlurmEngine) -> None:
    fail = engine.launch(request("exit42", command=["sh", "-c", "exit 42"]))
    killed = engine.launch(request("kill9", ("n2",), command=["sh", "-c", "kill -9 $$"]))
    assert wait_state(engine, fail) == EngineStatus(
        Outcome.FAILED, 42, "exit code 42", wait_state(engine, fail).details
    )
    status = wait_state(engine, killed)
    assert (status.outcome, status.reason) == (Outcome.FAILED, "killed by signal SIGKILL")
    with pytest.raises(LaunchError, match="already submitted"):
        engine.launch(request("exit42", command=["sh", "-c", "exit 42"]))


def test_ends_decided_by_slurm_carry_its_state_and_reason(
    cluster: None, engine: SlurmEngine, tmp_path: Path
) -> None:
    # The supervisor cannot start (no such interpreter on the node): Slurm's FAILED.
    broken = SlurmEngine(
        tmp_path / "broken", ["hpc"], grace_s=GRACE_S, conf=CONF, python="/nonexistent/python3"
    )
    h = broken.launch(request("no-python"))
    status = wait_state(broken, h)
    assert status.outcome is Outcome.FAILED and status.exit_code == 127, status
    assert status.reason.startswith("Slurm FAILED"), status
    # Cancelled behind aidc's back (an operator's scancel): Slurm's CANCELLED.
    h = engine.launch(request("scancelled", command=["sleep", "60"]))
    wait_state(engine, h, running=True)
    slurm("scancel", str(h["slurm_job_id"]))
    status = wait_state(engine, h)
    assert status.outcome is Outcome.CANCELLED and "cancelled in Slurm" in status.reason


def test_one_squeue_serves_the_polls_of_many_jobs(
    engine: SlurmEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    handles = [
        engine.launch(request(f"many{i}", (f"n{i % 4 + 1}",), command=["sleep", "30"]))
        for i in range(4)
    ]
    for h in handles:
        wait_state(engine, h, running=True)
    calls: list[str] = []
    real_run = engine.cli.run

    def counting_run(args: list[str], **kw: bool) -> str:
        calls.append(args[0])
        return real_run(args, **kw)

    monkeypatch.setattr(engine.cli, "run", counting_run)
    engine.cli.invalidate()
    for _ in range(5):
        assert all(engine.poll(h).outcome is Outcome.RUNNING for h in handles)
    assert calls == ["squeue"]
    for h in handles:
        engine.cancel(h)
    for h in handles:
        assert wait_state(engine, h).outcome is Outcome.CANCELLED
    # A run whose supervisor recorded its end (here: the cancel aidc asked for) needs no
    # Slurm tool at all.
    calls.clear()
    assert all(engine.poll(h).outcome is Outcome.CANCELLED for h in handles)
    assert calls == []


def test_time_limit_is_enforced_in_about_limit_plus_grace(engine: SlurmEngine) -> None:
    h = engine.launch(request("limit", time_limit_s=2, command=["sleep", "60"]))
    wait_state(engine, h, running=True)
    t0 = time.monotonic()
    status = wait_state(engine, h)
    assert status.outcome is Outcome.TIMEOUT, status
    assert "time limit of 2" in status.reason
    assert time.monotonic() - t0 < 2 + GRACE_S + 2


def test_cancel_and_preempt(engine: SlurmEngine) -> None:
    stubborn = ["sh", "-c", "trap '' TERM; sleep 60"]
    polite = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    c = engine.launch(request("cancel", ("n1",), command=stubborn))
    p = engine.launch(request("preempt", ("n2",), command=polite))
    wait_state(engine, c, running=True)
    wait_state(engine, p, running=True)
    t0 = time.monotonic()
    engine.cancel(c)
    engine.preempt(p, grace_s=5, reason="make room for j9")
    status = wait_state(engine, p)
    assert status.outcome is Outcome.PREEMPTED and "make room for j9" in status.reason
    status = wait_state(engine, c)
    assert status.outcome is Outcome.CANCELLED and status.details.get("killed") is True
    assert time.monotonic() - t0 < GRACE_S + 3


def test_a_pending_job_can_be_cancelled(engine: SlurmEngine) -> None:
    # A job holding all of n4's cores keeps the next one on n4 pending.
    def on_n4(job_id: str, cpus: int) -> LaunchRequest:
        req = request(job_id, ("n4",), command=["sleep", "30"])
        held = Placement("hpc", (NodePlacement("n4", cpus, 512, "a100", ()),))
        return LaunchRequest(req.job_id, req.project, req.spec, held, 60, 1, req.organisation)

    blocker = engine.launch(on_n4("blocker", 32))
    h = engine.launch(on_n4("pending", 1))
    try:
        status = engine.poll(h)
        assert status.outcome is Outcome.RUNNING and "PENDING" in status.reason
        engine.cancel(h)
        assert wait_state(engine, h).outcome is Outcome.CANCELLED
    finally:
        engine.cancel(blocker)
    assert wait_state(engine, blocker).outcome is Outcome.CANCELLED


def test_recover_by_name_and_logs_across_attempts(engine: SlurmEngine, tmp_path: Path) -> None:
    h1 = engine.launch(request("rec", command=["echo", "first"]))
    wait_state(engine, h1)
    h2 = engine.launch(request("rec", attempt=2, command=["echo", "second"]))
    wait_state(engine, h2)
    assert log_of(engine, h2) == "first\n--- attempt 2 ---\nsecond\n"
    assert engine.read_log(h2, 6, 100).startswith(b"--- attempt 2")
    # A new engine object (a restarted server) finds the run by its Slurm job name, also
    # when the launch crashed before it recorded the submission.
    (Path(h2["dir"]) / "submitted.json").unlink()
    again = SlurmEngine(tmp_path / "home", ["hpc"], grace_s=GRACE_S, conf=CONF)
    found = again.recover(h2["name"].removeprefix("aidc-").rsplit("-", 1)[0])
    assert found is not None and found["slurm_job_id"] == h2["slurm_job_id"]
    assert again.recover(h1["name"][5:].rsplit("-", 1)[0], 1)["slurm_job_id"] == h1["slurm_job_id"]
    assert again.recover("never-launched") is None
    assert again.poll(found).outcome is Outcome.SUCCEEDED


def test_two_node_job_gets_rank_env(engine: SlurmEngine) -> None:
    cmd = [
        "sh",
        "-c",
        "echo rank=$RANK/$WORLD_SIZE node=$AIDC_NODE master=$MASTER_ADDR:$MASTER_PORT",
    ]
    h = engine.launch(request("mn", ("n3", "n4"), gpus=1, command=cmd))
    assert wait_state(engine, h).outcome is Outcome.SUCCEEDED
    lines = sorted(line for line in log_of(engine, h).splitlines() if line.startswith("rank="))
    assert [line.split()[:2] for line in lines] == [
        ["rank=0/2", "node=n3"],
        ["rank=1/2", "node=n4"],
    ]
    masters = {line.split()[2] for line in lines}
    assert len(masters) == 1 and masters.pop().startswith("master=127.0.0.1:")


def test_a_two_node_job_is_preempted_on_every_rank(engine: SlurmEngine) -> None:
    stubborn = ["sh", "-c", "trap 'echo term $AIDC_NODE' TERM; while :; do sleep 0.1; done"]
    h = engine.launch(request("mn-stop", ("n1", "n2"), command=stubborn))
    deadline = time.monotonic() + 20
    while len(list(Path(h["dir"]).glob("rank-*/shim.json"))) < 2:
        assert time.monotonic() < deadline, engine.poll(h)
        time.sleep(0.1)
    time.sleep(0.3)  # the traps are set
    t0 = time.monotonic()
    engine.preempt(h, grace_s=1, reason="room for a gang")
    status = wait_state(engine, h)
    assert status.outcome is Outcome.PREEMPTED and "room for a gang" in status.reason
    assert status.details.get("killed") is True and time.monotonic() - t0 < 1 + 4
    assert {"term n1", "term n2"} <= set(log_of(engine, h).splitlines())


def test_inventory_shows_nodes_and_drains(engine: SlurmEngine) -> None:
    nodes = {n.name: n for n in engine.inventory()}
    assert {"n1", "n2", "n3", "n4"} <= set(nodes)
    n1 = nodes["n1"]
    assert (n1.pool, n1.accelerator_type, n1.devices) == ("hpc", "a100", (0, 1, 2, 3))
    assert n1.cpus == 32 and n1.memory_mib == 262144 and n1.labels["partition"] == "hpc"
    slurm("scontrol", "update", "NodeName=n2", "State=DRAIN", "Reason=bad fan")
    try:
        engine.cli.invalidate()
        n2 = next(n for n in engine.inventory() if n.name == "n2")
        assert (n2.state, n2.state_reason) == (NodeState.DRAINED, "bad fan")
    finally:
        slurm("scontrol", "update", "NodeName=n2", "State=RESUME")


def test_accounts_follow_projects_and_sacct_agrees(engine: SlurmEngine) -> None:
    project = f"acct-{RUN}"
    engine.sync_accounts([(project, "org-sync", 7)])
    assoc = slurm("sacctmgr", "-n", "-P", "show", "assoc", "format=account,parentname,fairshare")
    assert f"{project}|org-sync|7" in assoc.splitlines()
    h = engine.launch(request("acct", project=project))
    wait_state(engine, h)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        jobs = json.loads(slurm("sacct", "--json", "-X", "-j", str(h["slurm_job_id"])))["jobs"]
        if jobs and jobs[0]["state"]["current"] == "COMPLETED":
            break
        time.sleep(0.2)
    assert jobs[0]["account"] == project


def test_controller_down_is_engine_unavailable(engine: SlurmEngine) -> None:
    h = engine.launch(request("outage", command=["sleep", "8"]))
    wait_state(engine, h, running=True)
    dev("stop-controller")
    try:
        engine.cli.invalidate()
        with pytest.raises(EngineUnavailable, match="slurmctld"):
            engine.poll(h)
        with pytest.raises(EngineUnavailable):
            engine.inventory()
        with pytest.raises(EngineUnavailable):
            engine.launch(request("outage-launch"))
    finally:
        dev("start-controller")
    assert wait_state(engine, h).outcome is Outcome.SUCCEEDED


def test_organisation_identity_runs_as_the_organisations_user(cluster: None) -> None:
    if os.getuid() != 0:
        pytest.skip("sbatch --uid needs root")
    # pytest's tmp_path is private to root: the job's user must reach its folders.
    shared = Path(tempfile.mkdtemp(prefix="aidc-slurm-org-"))
    try:
        shared.chmod(0o755)
        e = SlurmEngine(
            shared,
            ["hpc"],
            grace_s=GRACE_S,
            conf=CONF,
            jobs_dir=shared / "jobs",
            identity="organisation",
            users={"org-slurm": "nobody"},
        )
        cmd = ["sh", "-c", "id -un; touch $AIDC_CHECKPOINT_DIR/ok && echo wrote"]
        h = e.launch(request("orgid", command=cmd))
        assert wait_state(e, h).outcome is Outcome.SUCCEEDED, log_of(e, h)
        assert log_of(e, h).split() == ["nobody", "wrote"]
        assoc = slurm("sacctmgr", "-n", "-P", "show", "assoc", "format=account,user")
        assert "p-slurm|nobody" in assoc.splitlines()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"conf": "/nope/slurm.conf"}, "engines.slurm.conf: /nope/slurm.conf does not exist"),
        ({"partition": {"cloud": "x"}}, "engines.slurm.partition: pool 'cloud'"),
        ({"jobs_dir": "relative"}, "engines.slurm.jobs_dir: must be an absolute path"),
        ({"identity": "user"}, "engines.slurm.identity"),
        ({"identity": "organisation"}, "engines.slurm.users"),
        ({"users": {"org": "nobody"}}, "engines.slurm.users: only used with"),
        ({"frobnicate": 1}, "engines.slurm.frobnicate: unknown option"),
        ({"accounts": "yes"}, "engines.slurm.accounts: must be true"),
    ],
)
def test_config_errors_name_the_option(tmp_path: Path, options: dict, message: str) -> None:
    config = EngineConfig("slurm", tmp_path, (Pool("hpc", "slurm"),), (), 1.0, options)
    with pytest.raises(EngineConfigError, match=message.replace("(", r"\(")):
        from_config(config)


def test_from_config(cluster: None, tmp_path: Path) -> None:
    config = EngineConfig(
        "slurm",
        tmp_path,
        (Pool("hpc", "slurm"),),
        (),
        2.0,
        {"conf": CONF, "partition": {"hpc": "hpc"}, "jobs_dir": str(tmp_path / "shared")},
    )
    e = from_config(config)
    assert e.grace_s == 2.0 and e.jobs_dir == tmp_path / "shared"
    assert (tmp_path / "shared" / ".aidc" / "slurm_shim.py").exists()


def test_the_controller_keeps_slurm_accounts_in_step_with_projects(
    engine: SlurmEngine, tmp_path: Path
) -> None:
    from aidc.controller import Controller
    from aidc.services import quota_admin, tenancy
    from aidc.services.center import Center
    from aidc.services.nodes import sync_inventory
    from aidc.store import migrate
    from aidc.store.db import Database
    from tests.integration.tenants import make_tenants

    db = Database(f"sqlite:///{tmp_path / 'aidc.db'}")
    migrate.upgrade(db.engine)
    center = Center(db=db, engines={"slurm": engine})
    sync_inventory(center, [Pool("hpc", "slurm")], engine.inventory())
    t = make_tenants(center)
    project = f"sync-{RUN}"
    tenancy.create_project(center, project, "Acme", ["alice"])

    def fairshare() -> str | None:
        fields = "format=account,parentname,fairshare"
        assoc = slurm("sacctmgr", "-n", "-P", "show", "assoc", fields)
        rows = [line.split("|") for line in assoc.splitlines()]
        return next((r[2] for r in rows if r[0] == project and r[1] == "acme"), None)

    controller = Controller(center, tick_s=0.1, inventory_every_s=0.5)
    controller.start()  # a full sync at start: the new project has its account
    try:
        assert fairshare() == "1"
        quota_admin.set_shares(center, t.root, project, 5)
        deadline = time.monotonic() + 20
        while fairshare() != "5" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert fairshare() == "5"
    finally:
        controller.stop()
        db.dispose()
