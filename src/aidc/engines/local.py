"""The local engine: each job a supervised subprocess on this host (the embedded default).

Per job a folder under ``<home>/jobs/<id>/`` holds ``launch.json`` (what to run),
``job.log`` (stdout and stderr), ``work/`` (the default working directory), ``shim.json``
(written by the supervisor once the command runs) and ``exit.json`` (how it ended). The
supervisor (local_shim.py) runs in its own session, so jobs survive a server crash and a
restarted server re-adopts them from these files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from aidc.core import accelerators
from aidc.core.resources import Node
from aidc.engines.base import EngineStatus, Handle, LaunchError, LaunchRequest, Outcome

SHIM = Path(__file__).with_name("local_shim.py")
# Variables passed through from the server's environment; everything else (database URLs,
# tokens) stays out of jobs.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR", "TERM")
# How long recover() waits for a supervisor that was spawned just before a crash to say so.
RECOVER_WAIT_S = 2.0


class LocalEngine:
    name = "local"

    def __init__(self, home: Path, nodes: list[Node], grace_s: float = 10.0) -> None:
        self.jobs_dir = home / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._nodes = nodes
        self.grace_s = grace_s
        self._on_change: Callable[[], None] = lambda: None
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # -- protocol -------------------------------------------------------------------------

    def inventory(self) -> list[Node]:
        return list(self._nodes)

    def set_listener(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change

    def launch(self, job: LaunchRequest) -> Handle:
        if len(job.placement.nodes) != 1:
            raise LaunchError("the local engine runs single-node jobs only; ask for nodes=1")
        job_dir = self.jobs_dir / job.job_id
        if (job_dir / "launch.json").exists():
            # Never start a job twice, whatever the caller believes.
            raise LaunchError(f"job {job.job_id} was already launched on this host")
        work = job_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        cwd = job.spec.workdir or str(work)
        if not os.path.isdir(cwd):
            raise LaunchError(f"workdir {cwd} does not exist on this host")
        if job.spec.script is not None:
            script = job_dir / "script.sh"
            script.write_text(job.spec.script)
            argv = ["/bin/bash", str(script)]
        else:
            argv = list(job.spec.command or [])
        log = job_dir / "job.log"
        log.touch()
        launch = {
            "argv": argv,
            "cwd": cwd,
            "env": self._job_env(job, job_dir, cwd),
            "log": str(log),
            "time_limit_s": job.time_limit_s,
            "grace_s": self.grace_s,
        }
        _write_json(job_dir / "launch.json", launch)
        with open(job_dir / "shim.err", "wb") as shim_err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SHIM), str(job_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=shim_err,
                start_new_session=True,
                close_fds=True,
            )
        with self._lock:
            self._children[job.job_id] = proc
        threading.Thread(target=self._reap, args=(job.job_id, proc), daemon=True).start()
        return {"dir": str(job_dir), "pid": proc.pid, "create_time": _create_time(proc.pid)}

    def poll(self, handle: Handle) -> EngineStatus:
        job_dir = Path(handle["dir"])
        status = _read_exit(job_dir)
        if status is not None:
            return status
        if self._alive(handle):
            return EngineStatus(Outcome.RUNNING)
        # The supervisor may have written exit.json between the two looks.
        return _read_exit(job_dir) or EngineStatus(
            Outcome.LOST,
            reason="the job's supervisor process ended without recording an exit "
            "(killed from outside, or the host rebooted)",
        )

    def recover(self, job_id: str) -> Handle | None:
        job_dir = self.jobs_dir / job_id
        if not (job_dir / "launch.json").exists():
            return None
        deadline = time.monotonic() + RECOVER_WAIT_S
        while True:
            for name in ("shim.json", "exit.json"):
                if (job_dir / name).exists():
                    shim = _load_json(job_dir / "shim.json") or {}
                    pid = shim.get("pid", 0)
                    assert isinstance(pid, int)
                    return {"dir": str(job_dir), "pid": pid, "create_time": _create_time(pid)}
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def cancel(self, handle: Handle) -> None:
        if self._alive(handle):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(handle["pid"]), signal.SIGTERM)

    def read_log(self, handle: Handle, offset: int, limit: int) -> bytes:
        try:
            with open(Path(handle["dir"]) / "job.log", "rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return b""

    def close(self) -> None:
        with self._lock:
            self._children.clear()

    # -- helpers --------------------------------------------------------------------------

    def _reap(self, job_id: str, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        with self._lock:
            self._children.pop(job_id, None)
        self._on_change()

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

    def _job_env(self, job: LaunchRequest, job_dir: Path, cwd: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update(job.spec.env)
        held = job.placement.nodes[0]
        devices = ",".join(str(d) for d in held.devices)
        acc = accelerators.CATALOG.get(held.accelerator_type)
        # A job without accelerators must not see (and grab) the host's GPUs.
        env["CUDA_VISIBLE_DEVICES"] = devices if acc and acc.vendor == "nvidia" else ""
        if acc and acc.visible_devices_env and acc.visible_devices_env != "CUDA_VISIBLE_DEVICES":
            env[acc.visible_devices_env] = devices
        env.update(
            {
                "AIDC_JOB_ID": job.job_id,
                "AIDC_PROJECT": job.project,
                "AIDC_JOB_DIR": str(job_dir),
                "AIDC_WORKDIR": cwd,
                "AIDC_NODE": held.node,
                "AIDC_ACCELERATOR_TYPE": held.accelerator_type if held.devices else "",
                "AIDC_ACCELERATORS": str(len(held.devices)),
                "AIDC_VISIBLE_DEVICES": devices,
                "AIDC_CPUS": str(held.cpus),
                "AIDC_MEMORY_MIB": str(held.memory_mib),
                "AIDC_TIME_LIMIT_S": str(int(job.time_limit_s)),
            }
        )
        return env


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


def _read_exit(job_dir: Path) -> EngineStatus | None:
    data = _load_json(job_dir / "exit.json")
    if data is None:
        return None
    code = data.get("exit_code")
    return EngineStatus(
        Outcome(str(data["outcome"])),
        exit_code=int(code) if isinstance(code, int) else None,
        reason=str(data.get("reason", "")),
    )


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
