"""The local engine: each job a supervised subprocess on this host (the embedded default).

Per job a folder ``<home>/jobs/<id>/`` holds ``job.log`` (stdout and stderr of every run, in
order; each run after the first starts with a line ``--- attempt N ---``), ``work/`` (the
default working directory, kept across requeues) and one folder per run,
``attempt-<N>/``, with ``launch.json`` (what to run), ``shim.json`` (written by the
supervisor once the command runs), ``stop.json`` (a stop request: a cancel, or a
preemption with its grace and reason) and ``exit.json`` (how it ended).
``<home>/checkpoints/<id>/`` (mode 0700) is the job's checkpoint folder, the same for every
run. The supervisor (local_shim.py) runs in its own session, so jobs survive a server crash
and a restarted server re-adopts them from these files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from aidc.core.jobspec import JobSpec
from aidc.core.resources import Node
from aidc.engines.base import (
    Capability,
    DatasetProvider,
    EngineStatus,
    Handle,
    LaunchError,
    LaunchRequest,
    Outcome,
)
from aidc.engines.dataset_view import dataset_view, read_only_argv
from aidc.engines.interactive import environment_env, read_address
from aidc.engines.job_env import aidc_env, device_env, rank_env
from aidc.engines.local_cgroup import Hierarchy, find_hierarchy
from aidc.engines.local_identity import (
    Rlimits,
    close_entries,
    close_home,
    dataset_groups,
    engine_options,
    give_session,
    own_private,
    resolve_isolate,
    session_folder,
    take_folders,
)
from aidc.engines.local_spawner import Spawner
from aidc.engines.oci_images import refuse_image
from aidc.engines.registry import EngineConfig, EngineConfigError

log = logging.getLogger("aidc.engines.local")

# Variables passed through from the server's environment; everything else (database URLs,
# tokens) stays out of jobs.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR", "TERM")
# How long recover() waits for a supervisor that was spawned just before a crash to say so.
RECOVER_WAIT_S = 2.0


class LocalEngine:
    name = "local"
    capabilities: frozenset[Capability] = frozenset(
        {Capability.MULTI_NODE, Capability.DATASET_MOUNTS, Capability.INTERACTIVE_PORTS}
    )
    # Links declared datasets into each run (services.datasets_mounts); set at start.
    datasets: DatasetProvider | None = None

    def __init__(
        self,
        home: Path,
        nodes: list[Node],
        grace_s: float = 10.0,
        *,
        isolate: bool | str = "auto",
        rlimits: Rlimits | None = None,
    ) -> None:
        self.home = home
        self.jobs_dir = home / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints_dir = home / "checkpoints"
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        # Each organisation's jobs as its own Unix user (local_identity); root only.
        try:
            self.isolate = resolve_isolate(isolate)
        except ValueError as e:
            raise EngineConfigError(str(e)) from None
        self.rlimits = rlimits or Rlimits()
        self.cgroups: Hierarchy | None = None
        if self.isolate:
            close_home(home)  # raises EngineConfigError unless root
            self.cgroups, why = find_hierarchy()
            if self.cgroups is None:
                log.info("no cgroup v2 limits for local jobs: %s", why)
        self._nodes = nodes
        self.grace_s = grace_s
        self._on_change: Callable[[], None] = lambda: None
        # Supervisors are forked by one helper process; it says when one exits.
        self._spawner = Spawner(lambda: self._on_change(), home / "spawner.err")

    # -- protocol -------------------------------------------------------------------------

    def inventory(self) -> list[Node]:
        return list(self._nodes)

    def set_listener(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change

    def launch(self, job: LaunchRequest) -> Handle:
        result = self.launch_many([job])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def launch_many(self, jobs: list[LaunchRequest]) -> list[Handle | Exception]:
        """``launch`` for a batch: every run folder is written, then one round trip to the
        fork server starts all supervisors."""
        results: list[Handle | Exception] = []
        ready: list[tuple[int, LaunchRequest, Path]] = []
        if self.isolate and jobs:
            # Folders made in the home since the last look (traces/ on a first upload,
            # say) are closed before any job runs: a few dozen system calls per batch.
            close_entries(self.home)
        for job in jobs:
            try:
                ready.append((len(results), job, self._prepare(job)))
                results.append(LaunchError("not started"))
            except LaunchError as e:
                results.append(e)
        pids = self._spawner.spawn([run_dir for _, _, run_dir in ready])
        for (i, job, run_dir), pid in zip(ready, pids, strict=True):
            log = str(self.jobs_dir / job.job_id / "job.log")
            if pid is not None:
                results[i] = {
                    "dir": str(run_dir),
                    "pid": pid,
                    "create_time": _create_time(pid),
                    "log": log,
                }
                continue
            # No answer: the supervisor may have been forked before the fork server died.
            handle = self.recover(job.job_id, job.attempt)
            if handle is None:
                retried = self._spawner.spawn([run_dir])[0]
                if retried is None:
                    results[i] = LaunchError(
                        f"the local fork server died; see {self._spawner.errors}"
                    )
                    continue
                handle = {
                    "dir": str(run_dir),
                    "pid": retried,
                    "create_time": _create_time(retried),
                    "log": log,
                }
            results[i] = handle
        return results

    def _prepare(self, job: LaunchRequest) -> Path:
        """Write run ``job.attempt``'s folder (launch.json last); the folder."""
        refuse_image(job, "local")
        unknown = {n.node for n in job.placement.nodes} - {n.name for n in self._nodes}
        if unknown:
            raise LaunchError(f"node {sorted(unknown)[0]} is not a node of this host")
        job_dir = self.jobs_dir / job.job_id
        run_dir = self._run_dir(job.job_id, job.attempt)
        if (run_dir / "launch.json").exists():
            # Never start a run twice, whatever the caller believes.
            raise LaunchError(
                f"job {job.job_id} attempt {job.attempt} was already launched on this host"
            )
        work = job_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        cwd = job.spec.workdir or str(work)
        if not os.path.isdir(cwd):
            raise LaunchError(f"workdir {cwd} does not exist on this host")
        checkpoints = self._checkpoint_dir(job.job_id)
        who = None
        if self.isolate:
            who = take_folders(job.organisation, job_dir, work, checkpoints)
            session = session_folder(self.home, job)
            if session is not None:
                give_session(session, who)
        argv = job_argv(job.spec, run_dir)
        log = job_dir / "job.log"
        _start_log(log, job.attempt)
        envs = self._rank_envs(job, job_dir, cwd, checkpoints)
        view = dataset_view(self.datasets, job, run_dir)
        if view is not None:
            argv = read_only_argv(view, argv, sys.executable)
            for env in envs:
                env.update(view.env)
        groups: list[int] = []
        if who is not None:
            for env in envs:
                env.update(HOME=str(work), USER=who.user, LOGNAME=who.user)
            if job.spec.datasets:
                groups = dataset_groups(run_dir / "datasets")
                own_private(Path(envs[0]["AIDC_OUTPUT_DIR"]), who)  # the job writes there
        launch: dict[str, object] = {
            "argv": argv,
            "cwd": cwd,
            "rank_envs": envs,
            "log": str(log),
            "time_limit_s": job.time_limit_s,
            "grace_s": self.grace_s,
            "rlimits": self.rlimits.as_launch(),
        }
        if who is not None:
            launch |= {"uid": who.uid, "gid": who.gid, "groups": groups}
        if self.cgroups is not None:
            launch |= self.cgroups.for_job(job, len(envs), self.rlimits.processes)
        _write_json(run_dir / "launch.json", launch)
        return run_dir

    def poll(self, handle: Handle) -> EngineStatus:
        run_dir = Path(handle["dir"])
        status = _read_exit(run_dir)
        if status is not None:
            return status
        if self._alive(handle):
            return EngineStatus(Outcome.RUNNING)
        # The supervisor may have written exit.json between the two looks.
        return _read_exit(run_dir) or EngineStatus(
            Outcome.LOST,
            reason="the job's supervisor process ended without recording an exit "
            "(killed from outside, or the host rebooted)",
        )

    def recover(self, job_id: str, attempt: int | None = None) -> Handle | None:
        run_dir = self._run_dir(job_id, attempt)
        if not (run_dir / "launch.json").exists():
            return None
        deadline = time.monotonic() + RECOVER_WAIT_S
        while True:
            for name in ("shim.json", "exit.json"):
                if (run_dir / name).exists():
                    shim = _load_json(run_dir / "shim.json") or {}
                    pid = shim.get("pid", 0)
                    assert isinstance(pid, int)
                    return self._handle(run_dir, pid)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def cancel(self, handle: Handle) -> None:
        self._stop(handle, {"kind": "cancel", "at": time.time()})

    def preempt(self, handle: Handle, grace_s: float, reason: str = "") -> None:
        # The supervisor reads stop.json when the SIGTERM arrives: this call's grace and
        # reason instead of the cancel grace.
        stop = {"kind": "preempt", "grace_s": grace_s, "reason": reason, "at": time.time()}
        self._stop(handle, stop)

    def read_log(self, handle: Handle, offset: int, limit: int) -> bytes:
        # Handles from before runs had their own folders have no "log": it sat in "dir".
        return read_range(handle.get("log") or str(Path(handle["dir"]) / "job.log"), offset, limit)

    def interactive_address(self, handle: Handle) -> str | None:
        return read_address(handle)

    def close(self) -> None:
        self._spawner.close()

    # -- helpers --------------------------------------------------------------------------

    def _stop(self, handle: Handle, stop: dict[str, object]) -> None:
        """Write the stop request (atomically), then SIGTERM the supervisor."""
        if not self._alive(handle):
            return  # it ended already; poll reports how
        run_dir = Path(handle["dir"])
        _write_json(run_dir / "stop.json", stop)
        # Until it writes shim.json a supervisor may not handle SIGTERM yet (it would die
        # of it); it reads stop.json itself right after writing shim.json. Each side
        # writes its file before it looks for the other's, so one of them always acts.
        if (run_dir / "shim.json").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(handle["pid"]), signal.SIGTERM)

    def _handle(self, run_dir: Path, pid: int) -> Handle:
        job_dir = run_dir.parent if run_dir.name.startswith("attempt-") else run_dir
        log = str(job_dir / "job.log")
        return {"dir": str(run_dir), "pid": pid, "create_time": _create_time(pid), "log": log}

    def _run_dir(self, job_id: str, attempt: int | None) -> Path:
        """The folder of run ``attempt``; None: the latest run. Runs launched before
        attempts were counted (attempt 0) used the job folder itself."""
        job_dir = self.jobs_dir / job_id
        if attempt is None:
            runs = [p.name.removeprefix("attempt-") for p in job_dir.glob("attempt-*")]
            attempt = max((int(n) for n in runs if n.isdigit()), default=0)
        return job_dir / f"attempt-{attempt}" if attempt >= 1 else job_dir

    def _checkpoint_dir(self, job_id: str) -> Path:
        """``<home>/checkpoints/<id>``: one per job, kept across requeues, private (0700)."""
        path = self.checkpoints_dir / job_id
        path.mkdir(parents=True, exist_ok=True)
        # mkdir's mode is filtered by the umask and ignored for existing folders: chmod.
        # Isolated jobs run as other users, who must pass through (not list) to their own.
        os.chmod(self.checkpoints_dir, 0o711 if self.isolate else 0o700)
        os.chmod(path, 0o700)
        return path

    def _alive(self, handle: Handle) -> bool:
        """The supervisor still runs: same pid *and* same start time (pids get reused)."""
        pid = int(handle.get("pid") or 0)
        if pid <= 0:
            return False
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - float(handle.get("create_time") or 0)) > 0.05:
                return False
            return bool(p.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    def _rank_envs(
        self, job: LaunchRequest, job_dir: Path, cwd: str, checkpoints: Path
    ) -> list[dict[str, str]]:
        """One environment per placed node. The nodes of a multi-node job are virtual
        nodes of this host: each rank is a process here, with the env it would have on a
        cluster (one rank per node, so LOCAL_RANK 0) and rank 0 on 127.0.0.1."""
        base = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        base.update(environment_env(job.environment, base.get("PATH", "")))
        base.update(job.spec.env)
        world = len(job.placement.nodes)
        port = _free_port() if world > 1 else 0
        envs = []
        for rank, held in enumerate(job.placement.nodes):
            env = dict(base)
            env.update(device_env(held))
            env.update(
                aidc_env(job, held, job_dir=str(job_dir), cwd=cwd, checkpoints=str(checkpoints))
            )
            if world > 1:
                env.update(
                    rank_env(
                        rank=rank,
                        world_size=world,
                        local_rank=0,
                        master_addr="127.0.0.1",
                        master_port=port,
                    )
                )
            envs.append(env)
        return envs


def job_argv(spec: JobSpec, run_dir: Path) -> list[str]:
    """What a run executes: the command as given (no shell), or the script written into
    the run's folder and run with bash. Every engine runs a job's spec this way."""
    if spec.script is None:
        return list(spec.command or [])
    script = run_dir / "script.sh"
    script.write_text(spec.script)
    return ["/bin/bash", str(script)]


def read_range(path: str, offset: int, limit: int) -> bytes:
    """Up to ``limit`` bytes of a job's log from ``offset`` (none yet: empty); every
    engine's logs are files in the job's folder."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(limit)
    except FileNotFoundError:
        return b""


def _free_port() -> int:
    """A TCP port free on loopback now, for rank 0 to listen on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _create_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time() if pid > 0 else 0.0
    except psutil.NoSuchProcess:
        return 0.0


def _load_json(path: Path) -> dict[str, object] | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _read_exit(run_dir: Path) -> EngineStatus | None:
    data = _load_json(run_dir / "exit.json")
    if data is None:
        return None
    code = data.get("exit_code")
    return EngineStatus(
        Outcome(str(data["outcome"])),
        exit_code=int(code) if isinstance(code, int) else None,
        reason=str(data.get("reason", "")),
        # How long a stopped job took to stop, and whether it needed SIGKILL.
        details={k: data[k] for k in ("stop_s", "killed") if k in data},
    )


def _start_log(log: Path, attempt: int) -> None:
    """Create the job's log; a later run appends to it after a line naming its attempt, so
    log readers see every run in order and their offsets stay valid across requeues."""
    with open(log, "a+b") as f:  # appends always go to the end
        if attempt > 1:
            f.seek(max(f.seek(0, os.SEEK_END) - 1, 0))
            last = f.read(1)
            newline = b"\n" if last not in (b"", b"\n") else b""
            f.write(newline + f"--- attempt {attempt} ---\n".encode())


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def from_config(config: EngineConfig) -> LocalEngine:
    try:
        isolate, rlimits = engine_options(config.options)
    except ValueError as e:
        raise EngineConfigError(str(e)) from None
    return LocalEngine(
        config.home, list(config.nodes), grace_s=config.grace_s, isolate=isolate, rlimits=rlimits
    )
