"""The Ray engine: each admitted job a Ray Job on an existing Ray cluster (pool ``cloud``).

aidc talks to the cluster's Jobs API (the dashboard, ``[engines.ray] address``) only; ray
is imported when a pool uses this engine. Each run is submitted with the submission id
``aidc-<job id>-<attempt>`` (so a restarted server finds it, and never submits it twice)
and runs ``ray_entry.py`` as its driver, which reserves the scheduler's nodes (custom
resource ``aidc_node:<name>`` on every node) in a STRICT_SPREAD placement group and
supervises one rank per node: see ray_entry.py.

Files, under ``jobs_dir/<id>/`` (on a filesystem the Ray nodes share with aidc): ``job.log``
(every run's output, later runs after ``--- attempt N ---``), ``work/``, and per run
``attempt-<N>/`` with ``launch.json``, ``ray_entry.py``, ``stop.json`` (a cancel or a
preemption), ``started.json`` and ``exit.json`` (written by the driver).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from aidc.core.resources import Node, NodeState
from aidc.engines import env_modules
from aidc.engines.base import (
    Capability,
    DatasetProvider,
    EngineStatus,
    EngineUnavailable,
    Handle,
    LaunchError,
    LaunchRequest,
    Outcome,
)
from aidc.engines.dataset_view import WRAPPER, dataset_view, read_only_argv
from aidc.engines.end_watcher import EndWatcher
from aidc.engines.interactive import read_address
from aidc.engines.local import _load_json, _read_exit, _start_log, _write_json, job_argv, read_range
from aidc.engines.oci_images import refuse_image
from aidc.engines.ray_dev import auth_headers
from aidc.engines.ray_parts import entrypoint_resources, ranks, ray_node, submission_id
from aidc.engines.registry import EngineConfig, EngineConfigError

ENTRY = Path(__file__).with_name("ray_entry.py")
# Copied next to the driver, which imports it on the nodes (they need no aidc install).
MODULES = Path(env_modules.__file__)
# In jobs_dir: a line per ended run (aidc.engines.end_watcher); job folders are hex ids.
ENDED = ".ended"
# After a stop request, how long the driver may take over the grace before stop_job.
STOP_MARGIN_S = 15.0
OPTIONS = ("address", "jobs_dir", "token_file", "accelerator", "python", "place_timeout_s",
           *env_modules.OPTIONS)  # fmt: skip


def _client_class() -> Any:
    from ray.job_submission import JobSubmissionClient

    class Client(JobSubmissionClient):  # type: ignore[misc]
        """Every request with a timeout: a hung head must not hang the controller."""

        def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", 10)
            return super()._do_request(method, endpoint, **kwargs)

    return Client


class RayEngine:
    name = "ray"
    capabilities: frozenset[Capability] = frozenset(
        {Capability.MULTI_NODE, Capability.INTERACTIVE_PORTS, Capability.DATASET_MOUNTS}
    )
    # Links declared datasets into each run (services.datasets_mounts); set at start. The
    # view sits in the run's folder, on the filesystem the Ray nodes share.
    datasets: DatasetProvider | None = None

    def __init__(
        self,
        address: str,
        jobs_dir: Path,
        *,
        pool: str = "cloud",
        grace_s: float = 10.0,
        accelerator: str = "a100",
        token_file: str | None = None,
        python: str = "python",
        place_timeout_s: float = 60.0,
        modulepath: str = "",
        module_init: str = "",
    ) -> None:
        self.address = address.rstrip("/")
        self.jobs_dir = jobs_dir
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints_dir = jobs_dir / "checkpoints"
        self._watcher: EndWatcher | None = None
        self.pool = pool
        self.grace_s = grace_s
        self.accelerator = accelerator
        self.token_file = token_file
        self.python = python
        self.place_timeout_s = place_timeout_s
        # Where the nodes' module system finds modules (center configuration).
        self.modulepath = modulepath
        self.module_init = module_init
        self._on_change: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._client: Any = None
        self._stopping: set[str] = set()
        self._jobs: tuple[float, dict[str, Any]] | None = None
        self._http = httpx.Client(timeout=10)

    # -- protocol -------------------------------------------------------------------------

    def inventory(self) -> list[Node]:
        try:
            r = self._http.get(
                f"{self.address}/api/v0/nodes",
                params={"limit": 10000, "detail": "true"},
                headers=auth_headers(self.token_file),
            )
            r.raise_for_status()
            entries = r.json()["data"]["result"]["result"]
        except (httpx.HTTPError, KeyError, ValueError) as e:
            raise EngineUnavailable(
                f"the Ray cluster at {self.address} does not answer: {e}"
            ) from None
        nodes: dict[str, Node] = {}
        for entry in entries:
            node = ray_node(entry, self.pool, self.accelerator)
            if node.name not in nodes or node.state is NodeState.UP:
                nodes[node.name] = node
        return sorted(nodes.values(), key=lambda n: n.name)

    def set_listener(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` within 0.1 s of a run's end (its driver appends to one file
        in the shared jobs folder); between ends the controller polls every tick."""
        self._on_change = on_change
        if self._watcher is not None:
            self._watcher.close()
        self._watcher = EndWatcher(self.jobs_dir / ENDED, on_change)

    def launch(self, job: LaunchRequest) -> Handle:
        # Ray's image_uri runs only workers in the image, not the driver: see docs/notebooks.md.
        refuse_image(job, "ray")
        sid = submission_id(job.job_id, job.attempt)
        job_dir = self.jobs_dir / job.job_id
        run_dir = job_dir / f"attempt-{job.attempt}"
        if (run_dir / "launch.json").exists():
            raise LaunchError(f"job {job.job_id} attempt {job.attempt} was already launched")
        up = {n.name for n in self.inventory() if n.state is NodeState.UP}
        gone = [p.node for p in job.placement.nodes if p.node not in up]
        if gone:
            raise LaunchError(f"node(s) {', '.join(gone)} are not (any longer) in the Ray cluster")
        work = job_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        cwd = job.spec.workdir or str(work)
        checkpoints = self.checkpoints_dir / job.job_id
        checkpoints.mkdir(parents=True, exist_ok=True)
        os.chmod(checkpoints, 0o700)
        view = dataset_view(self.datasets, job, run_dir)  # refused: LaunchError, not submitted
        wrapper = run_dir / WRAPPER.name
        argv = read_only_argv(view, job_argv(job.spec, run_dir), self.python, wrapper)
        if view is not None and view.read_only:
            shutil.copyfile(WRAPPER, wrapper)  # the Ray nodes run it from the shared folder
        rank_list = ranks(job, job_dir, cwd, checkpoints)
        for rank in rank_list:
            rank["env"].update(view.env if view else {})
        log = job_dir / "job.log"
        _start_log(log, job.attempt)
        launch = {
            "submission_id": sid,
            "argv": argv,
            "cwd": cwd,
            "log": str(log),
            "ended_file": str(self.jobs_dir / ENDED),
            "time_limit_s": job.time_limit_s,
            "grace_s": self.grace_s,
            "place_timeout_s": self.place_timeout_s,
            # One node: Ray gives the driver the GPUs and the driver runs the command.
            "direct": len(job.placement.nodes) == 1,
            "ranks": rank_list,
            # A notebook listens on its Ray node's address (the driver knows it), for the proxy.
            "interactive": job.spec.priority_class == "interactive",
            "modules": env_modules.spec(
                job.environment.modules if job.environment else (),
                self.module_init,
                self.modulepath,
            ),
        }
        _write_json(run_dir / "launch.json", launch)
        shutil.copyfile(ENTRY, run_dir / "ray_entry.py")
        if launch["modules"]:
            shutil.copyfile(MODULES, run_dir / MODULES.name)
        entrypoint = f"{self.python} {run_dir / 'ray_entry.py'} {run_dir}"
        resources = entrypoint_resources(job) if launch["direct"] else {"entrypoint_num_cpus": 0}
        try:
            self._call(
                lambda c: c.submit_job(
                    entrypoint=entrypoint,
                    submission_id=sid,
                    metadata={"aidc_job_id": job.job_id, "aidc_attempt": str(job.attempt)},
                    **resources,
                )
            )
        except EngineUnavailable:
            # Not submitted (as far as aidc can tell): the controller requeues the job and
            # may launch this attempt again. Had Ray taken it after all, that launch finds
            # Ray's job by its id and refuses: it never runs twice.
            (run_dir / "launch.json").unlink(missing_ok=True)
            raise
        except RuntimeError as e:
            if "already exists" in str(e):
                raise LaunchError(f"Ray already has a job {sid}: not submitting it twice") from None
            raise LaunchError(f"Ray refused job {sid}: {_short(e)}") from None
        self._jobs = None
        return {"submission_id": sid, "dir": str(run_dir), "log": str(log)}

    def poll(self, handle: Handle) -> EngineStatus:
        run_dir = Path(handle["dir"])
        status = _read_exit(run_dir)
        if status is not None:
            return status
        sid = handle["submission_id"]
        info = self._list_jobs().get(sid)
        status = _read_exit(run_dir)  # the driver may have finished meanwhile
        if status is not None:
            return status
        if info is None:
            return EngineStatus(
                Outcome.LOST, reason=f"the Ray cluster at {self.address} no longer knows job {sid}"
            )
        ray_status = str(getattr(info.status, "value", info.status))
        if ray_status == "PENDING" and self._abandon(handle, run_dir):
            return _read_exit(run_dir) or EngineStatus(Outcome.FAILED)
        if ray_status in ("PENDING", "RUNNING"):
            self._enforce_stop(handle, run_dir)
            return EngineStatus(Outcome.RUNNING, details={"ray_status": ray_status})
        stop = _load_json(run_dir / "stop.json") or {}
        why = f"Ray job {sid} ended {ray_status} without the aidc driver's record: {info.message}"
        if ray_status == "STOPPED" and stop:
            outcome = Outcome.PREEMPTED if stop.get("kind") == "preempt" else Outcome.CANCELLED
            return EngineStatus(outcome, reason=why, details={"killed": True})
        return EngineStatus(Outcome.FAILED, exit_code=info.driver_exit_code, reason=why)

    def recover(self, job_id: str, attempt: int | None = None) -> Handle | None:
        job_dir = self.jobs_dir / job_id
        if attempt is None:
            runs = [p.name.removeprefix("attempt-") for p in job_dir.glob("attempt-*")]
            attempt = max((int(n) for n in runs if n.isdigit()), default=0)
            if attempt == 0:
                return None
        sid = submission_id(job_id, attempt)
        run_dir = job_dir / f"attempt-{attempt}"
        try:
            self._call(lambda c: c.get_job_info(sid))
        except RuntimeError as e:
            if "404" in str(e) or "does not exist" in str(e):
                return None
            raise EngineUnavailable(f"Ray at {self.address}: {_short(e)}") from None
        return {"submission_id": sid, "dir": str(run_dir), "log": str(job_dir / "job.log")}

    def cancel(self, handle: Handle) -> None:
        self._stop(handle, {"kind": "cancel", "grace_s": self.grace_s, "at": time.time()})

    def preempt(self, handle: Handle, grace_s: float, reason: str = "") -> None:
        stop = {"kind": "preempt", "grace_s": grace_s, "reason": reason, "at": time.time()}
        self._stop(handle, stop)

    def read_log(self, handle: Handle, offset: int, limit: int) -> bytes:
        return read_range(handle["log"], offset, limit)

    def interactive_address(self, handle: Handle) -> str | None:
        return read_address(handle)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._http.close()
        self._client = None
        self._jobs = None

    # -- helpers --------------------------------------------------------------------------

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(client)``; EngineUnavailable when the Jobs API cannot be reached."""
        from ray.dashboard.modules.dashboard_sdk import AuthenticationError

        try:
            with self._lock:
                if self._client is None:
                    self._client = _client_class()(
                        self.address, headers=auth_headers(self.token_file)
                    )
                client = self._client
            return fn(client)
        except (OSError, AuthenticationError) as e:
            with self._lock:
                self._client = None
            raise EngineUnavailable(
                f"the Ray Jobs API at {self.address} does not answer: {_short(e)}"
            ) from None

    def _list_jobs(self) -> dict[str, Any]:
        """All jobs by submission id; one answer serves every poll for 0.5 s."""
        cached = self._jobs
        if cached is not None and time.monotonic() - cached[0] < 0.5:
            return cached[1]
        try:
            jobs = self._call(lambda c: c.list_jobs())
        except RuntimeError as e:
            raise EngineUnavailable(f"Ray at {self.address}: {_short(e)}") from None
        by_id = {j.submission_id: j for j in jobs if j.submission_id}
        self._jobs = (time.monotonic(), by_id)
        return by_id

    def _stop(self, handle: Handle, stop: dict[str, object]) -> None:
        """Write the stop request; the driver polls for it and applies the grace."""
        run_dir = Path(handle["dir"])
        if (run_dir / "exit.json").exists() or (run_dir / "stop.json").exists():
            return
        _write_json(run_dir / "stop.json", stop)

    def _abandon(self, handle: Handle, run_dir: Path) -> bool:
        """A run Ray has left PENDING past place_timeout_s: mark it so that its driver never
        starts it late (Ray cannot always drop a PENDING job), record it failed, and ask
        Ray to drop it."""
        if time.time() - (run_dir / "launch.json").stat().st_mtime < self.place_timeout_s:
            return False
        _write_json(run_dir / "stop.json", {"kind": "abandon", "at": time.time()})
        reason = (
            f"Ray could not place job {handle['submission_id']} within "
            f"{self.place_timeout_s:g}s (a node gone, or resources taken by work aidc does "
            "not know of)"
        )
        _write_json(run_dir / "exit.json", {"outcome": "failed", "reason": reason})
        self._stop_job(handle["submission_id"])
        return True

    def _stop_job(self, sid: str) -> None:
        """Ray's stop_job, off the caller's thread: for a PENDING job it may not answer
        before its timeout, and poll must not wait for it. Once per job."""
        with self._lock:
            if sid in self._stopping:
                return
            self._stopping.add(sid)

        def stop() -> None:
            with contextlib.suppress(RuntimeError, EngineUnavailable):
                self._call(lambda c: c.stop_job(sid))

        threading.Thread(target=stop, name=f"ray-stop-{sid}", daemon=True).start()

    def _enforce_stop(self, handle: Handle, run_dir: Path) -> None:
        """A driver that ignored a stop request past its grace: Ray's stop_job."""
        stop = _load_json(run_dir / "stop.json")
        if not stop:
            return
        grace = float(stop.get("grace_s", self.grace_s))  # type: ignore[arg-type]
        if time.time() > float(stop.get("at", 0)) + grace + STOP_MARGIN_S:  # type: ignore[arg-type]
            self._stop_job(handle["submission_id"])


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:300] if text else type(e).__name__


def from_config(config: EngineConfig) -> RayEngine:
    opts = dict(config.options)
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise EngineConfigError(
            f"engines.ray.{unknown[0]}: unknown option; use {', '.join(OPTIONS)}"
        )
    address = opts.get("address")
    if not isinstance(address, str) or not address.startswith(("http://", "https://")):
        raise EngineConfigError(
            "engines.ray.address: required, the Ray dashboard's URL (its Jobs API), "
            'e.g. address = "http://127.0.0.1:8265" (aidc dev ray-up prints it)'
        )
    if len(config.pools) > 1:
        names = ", ".join(p.name for p in config.pools)
        raise EngineConfigError(f"engines.ray: one Ray engine serves one pool, not {names}")
    for key in ("jobs_dir", "token_file", "accelerator", "python"):
        if key in opts and not isinstance(opts[key], str):
            raise EngineConfigError(f"engines.ray.{key}: must be a string")
    for key in env_modules.OPTIONS:
        error = env_modules.option_error(key, opts[key]) if key in opts else None
        if error:
            raise EngineConfigError(f"engines.ray.{key}: {error}")
    timeout = opts.get("place_timeout_s", 60.0)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise EngineConfigError("engines.ray.place_timeout_s: must be a positive number")
    try:
        import ray.job_submission  # noqa: F401
    except ImportError as e:
        raise EngineConfigError(
            f"engines.ray: the ray package is missing ({e}); pip install 'aidc[ray]'"
        ) from None
    jobs_dir = Path(opts["jobs_dir"]).expanduser() if "jobs_dir" in opts else config.home / "ray"
    return RayEngine(
        address,
        jobs_dir,
        pool=config.pools[0].name if config.pools else "cloud",
        grace_s=config.grace_s,
        accelerator=str(opts.get("accelerator", "a100")),
        token_file=opts.get("token_file"),
        python=str(opts.get("python", "python")),
        place_timeout_s=float(timeout),
        modulepath=str(opts.get("modulepath", "")),
        module_init=str(opts.get("module_init", "")),
    )
