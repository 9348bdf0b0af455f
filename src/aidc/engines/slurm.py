"""The Slurm engine: aidc decides where a job runs, Slurm runs it there.

State tracking uses Slurm's command-line tools with JSON (``sbatch --parsable``,
``squeue --json``, ``sacct --json``, ``sinfo --json``; ``scontrol`` has no JSON in 22.05)
rather than slurmrestd: both work on 22.05, but the CLI needs no extra daemon, no JWT key and
no user-mapping headers, and it is what every Slurm site already has on its login nodes.
One ``squeue --json`` serves every poll for half a second, so a controller pass over 200
jobs costs one call, not 200.

Per job, in ``jobs_dir`` (option ``jobs_dir``, default ``<home>/slurm``; on a real cluster
it MUST be on a filesystem shared by the aidc host and every compute node, since the
in-job supervisor reads and writes there): ``<id>/job.log`` (every run's output in order,
a run after the first starting with ``--- attempt N ---``, so log offsets stay valid across
requeues), ``<id>/work/`` (default working directory), ``<id>/attempt-<N>/`` (the run's
``launch.json``, ``batch.sh``, ``submitted.json``, ``exit.json``, and ``rank-<K>/`` per
node), and ``checkpoints/<id>/`` (0700).

A run is submitted as ``aidc-<id>-<attempt>`` exactly onto the scheduler's nodes
(``--nodelist``), one task per node, with ``--gres=gpu:<type>:<count>``: aidc chooses the
nodes and the count, Slurm chooses the device indices on each node, and the job sees
Slurm's choice in CUDA_VISIBLE_DEVICES and AIDC_VISIBLE_DEVICES. The batch step runs
``slurm_shim.py`` (standard library only), which enforces the time limit to the second
(Slurm's own ``--time``, the limit plus the grace rounded up to minutes, is only a
backstop: slurmctld checks limits every ~30 s), turns a stop request into SIGTERM, grace,
SIGKILL without needing aidc alive, and runs multi-node jobs through ``srun`` with RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT on every rank.

Identity (option ``identity``): ``service`` (default) submits everything as the aidc
service's own Unix user; ``organisation`` submits as ``users = { <organisation> = "<user>" }``
with ``sbatch --uid/--gid``, which Slurm allows only to root or SlurmUser: the aidc service
then runs as root on a submit host with munge auth (with slurmrestd it would need a JWT for
SlurmUser plus X-SLURM-USER-NAME per request). Accounts: ``root > <organisation> >
<project>`` via sacctmgr (see slurm_accounts.py), made at launch when missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aidc.core.resources import Node
from aidc.engines import env_modules, oci_images
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
from aidc.engines.interactive import read_address, remote_environment_env
from aidc.engines.job_env import aidc_env
from aidc.engines.local import _load_json, _read_exit, _start_log, _write_json, job_argv, read_range
from aidc.engines.registry import EngineConfig
from aidc.engines.slurm_accounts import SlurmAccounts
from aidc.engines.slurm_cli import SlurmCli, SlurmError, job_state
from aidc.engines.slurm_status import ACTIVE, finished_status, node_from_sinfo
from aidc.engines.slurm_submit import chown_tree, install_shims, sbatch_args

# Ends the supervisor's record settles without Slurm's word: how the job itself ended, or
# a stop aidc asked for (with a stop request in the run's folder).
SETTLED = frozenset({Outcome.SUCCEEDED, Outcome.TIMEOUT, Outcome.PREEMPTED})
STOPS = frozenset({Outcome.CANCELLED})


class SlurmEngine:
    name = "slurm"
    capabilities: frozenset[Capability] = frozenset(
        {Capability.MULTI_NODE, Capability.INTERACTIVE_PORTS, Capability.DATASET_MOUNTS}
    )
    # Links declared datasets into each run (services.datasets_mounts); set at start. The
    # view sits in the run's folder, on the filesystem the nodes share.
    datasets: DatasetProvider | None = None

    def __init__(
        self,
        home: Path,
        pools: Iterable[str] = ("hpc",),
        *,
        grace_s: float = 10.0,
        conf: str | None = None,
        partitions: dict[str, str] | None = None,
        jobs_dir: Path | None = None,
        identity: str = "service",
        users: dict[str, str] | None = None,
        python: str = "python3",
        accounts: bool = True,
        modulepath: str = "",
        module_init: str = "",
        images: str = "",
    ) -> None:
        self.grace_s = grace_s
        self.cli = SlurmCli(conf)
        self.accounts = SlurmAccounts(self.cli)
        # pool -> partition
        self.partitions = {p: p for p in pools}
        self.partitions.update(partitions or {})
        self.jobs_dir = jobs_dir or home / "slurm"
        self.checkpoints_dir = self.jobs_dir / "checkpoints"
        self.identity = identity
        self.users = dict(users or {})
        self.python = python
        # False: a cluster without slurmdbd; jobs run under the user's default account.
        self.manage_accounts = accounts
        # Where the nodes' module system finds modules (center configuration).
        self.modulepath = modulepath
        self.module_init = module_init
        # OCI bundles of environments' images (sbatch --container); empty: no containers.
        self.images = images
        self.service_user = pwd.getpwuid(os.getuid()).pw_name
        self.shim_dir = self.jobs_dir / ".aidc"
        install_shims(self.shim_dir)
        self._watcher: EndWatcher | None = None

    # -- protocol -------------------------------------------------------------------------

    def inventory(self) -> list[Node]:
        pool_of = {part: pool for pool, part in self.partitions.items()}
        nodes = []
        for n in self.cli.nodes():
            pool = next((pool_of[p] for p in n.get("partitions") or [] if p in pool_of), None)
            if pool is not None:
                nodes.append(node_from_sinfo(n, pool, self.partitions[pool]))
        return nodes

    def set_listener(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` within 0.1 s of a run's end (its supervisor appends to one
        file in the shared folder); between ends the controller polls every tick."""
        if self._watcher is not None:
            self._watcher.close()
        self._watcher = EndWatcher(self.shim_dir / "ended", on_change)

    def launch(self, job: LaunchRequest) -> Handle:
        name = _job_name(job.job_id, job.attempt)
        job_dir = self.jobs_dir / job.job_id
        run_dir = job_dir / f"attempt-{job.attempt}"
        # submitted.json covers this jobs_dir; Slurm's view (cached for half a second, as a
        # restarted server takes longer than that) covers a launch cut short before it.
        if (run_dir / "submitted.json").exists() or self._find(name, fresh=False) is not None:
            # Never start a run twice, whatever the caller believes.
            raise LaunchError(f"job {job.job_id} attempt {job.attempt} was already submitted")
        partition = self.partitions.get(job.placement.pool)
        if partition is None:
            raise LaunchError(f"pool {job.placement.pool!r} is not served by the slurm engine")
        container = self._container(job)
        user = self._user_for(job.organisation)
        account = None
        if self.manage_accounts:
            try:
                account = self.accounts.ensure(job.project, job.organisation, user)
            except SlurmError as e:
                raise LaunchError(
                    f"cannot create the Slurm account for {job.project}: {e} "
                    "(a cluster without slurmdbd needs engines.slurm.accounts = false)"
                ) from None
        work = job_dir / "work"
        for d in (work, run_dir):
            d.mkdir(parents=True, exist_ok=True)
        cwd = job.spec.workdir or str(work)
        checkpoints = self._checkpoint_dir(job.job_id)
        view = dataset_view(self.datasets, job, run_dir)  # refused: LaunchError, not submitted
        argv = read_only_argv(
            view, job_argv(job.spec, run_dir), self.python, self.shim_dir / WRAPPER.name
        )
        log = job_dir / "job.log"
        _start_log(log, job.attempt)
        nodes = job.placement.nodes
        n = len(nodes)
        # An interactive run (a notebook) listens on its node's address, for the proxy.
        interactive = job.spec.priority_class == "interactive"
        addresses = self._addresses([p.node for p in nodes]) if n > 1 or interactive else {}
        launch: dict[str, object] = {
            "argv": argv,
            "cwd": cwd,
            "env": {
                **remote_environment_env(job.environment),
                **job.spec.env,
                **(view.env if view else {}),
            },
            "nodes": {
                p.node: aidc_env(
                    job, p, job_dir=str(job_dir), cwd=cwd, checkpoints=str(checkpoints)
                )
                | ({"AIDC_INTERACTIVE_HOST": addresses.get(p.node, p.node)} if interactive else {})
                for p in nodes
            },
            "log": str(log),
            "time_limit_s": job.time_limit_s,
            "grace_s": self.grace_s,
            "nnodes": n,
            "accelerators": max(len(p.devices) for p in nodes),
            "addresses": addresses,
            "python": self.python,
            "modules": env_modules.spec(
                job.environment.modules if job.environment else (),
                self.module_init,
                self.modulepath,
            ),
        }
        _write_json(run_dir / "launch.json", launch)
        batch = run_dir / "batch.sh"
        shim = self.shim_dir / "slurm_shim.py"
        batch.write_text(f"#!/bin/sh\nexec {self.python} -I -S '{shim}' batch '{run_dir}'\n")
        for k in range(n):
            (run_dir / f"rank-{k}").mkdir(exist_ok=True)
        if user != self.service_user:
            # The view stays the service's: the job's user may read it, not change it.
            chown_tree(user, [job_dir, checkpoints], skip=run_dir / "datasets")
        as_user = None if user == self.service_user else user
        args = sbatch_args(job, name, partition, account, as_user, log, cwd, self.grace_s)
        if container:
            args.append(f"--container={container}")
        try:
            out = self.cli.run([*args, str(batch)])
        except SlurmError as e:
            raise LaunchError(f"Slurm refused the job: {e}") from None
        slurm_id = int(out.strip().split(";")[0])
        handle: Handle = {
            "slurm_job_id": slurm_id,
            "name": name,
            "dir": str(run_dir),
            "log": str(log),
            "nodes": n,
        }
        _write_json(run_dir / "submitted.json", handle)
        return handle

    def poll(self, handle: Handle) -> EngineStatus:
        run_dir = Path(handle["dir"])
        slurm_id = int(handle["slurm_job_id"])
        name = handle.get("name")

        def ours(job: dict[str, Any] | None) -> dict[str, Any] | None:
            # Job ids restart when a cluster's state is wiped: the name must match too.
            return job if job is not None and job.get("name") == name else None

        ended = _read_exit(run_dir)
        asked = (run_dir / "rank-0" / "stop.json").exists()
        if ended is not None and (ended.outcome in SETTLED or (asked and ended.outcome in STOPS)):
            # The supervisor's record says it all: no need to wait for squeue to agree
            # (a failure waits for Slurm's word, which may name NODE_FAIL or OOM).
            return EngineStatus(ended.outcome, ended.exit_code, ended.reason, ended.details)
        try:
            job = ours(self.cli.jobs().get(slurm_id))
            if job is None:
                self.cli.invalidate()  # the snapshot may predate the submission
                job = ours(self.cli.jobs().get(slurm_id))
            if job is None:
                job = ours(self.cli.accounted([slurm_id]).get(slurm_id))
        except EngineUnavailable:
            # A run that recorded its end needs no controller to say how it ended.
            ended = _read_exit(run_dir)
            if ended is not None:
                return ended
            raise
        ended = _read_exit(run_dir)
        if job is None:
            return ended or EngineStatus(
                Outcome.LOST,
                reason=f"Slurm no longer knows job {slurm_id} ({handle.get('name')}): "
                "not in squeue nor in sacct",
            )
        state, reason = job_state(job)
        details = {"slurm_job_id": slurm_id, "slurm_state": state}
        if state in ACTIVE and not (state == "COMPLETING" and ended is not None):
            why = f"Slurm {state}" + (f" ({reason})" if reason and reason != "None" else "")
            return EngineStatus(Outcome.RUNNING, reason=why, details=details)
        stop = _load_json(run_dir / "rank-0" / "stop.json")
        return finished_status(state, reason, job, ended, stop, details)

    def recover(self, job_id: str, attempt: int | None = None) -> Handle | None:
        if attempt is None:
            attempt = self._latest_attempt(job_id)
            if attempt is None:
                return None
        name = _job_name(job_id, attempt)
        run_dir = self.jobs_dir / job_id / f"attempt-{attempt}"
        saved = _load_json(run_dir / "submitted.json")
        if saved and saved.get("name") == name:
            return dict(saved)
        job = self._find(name, fresh=True)
        if job is None:
            found = self.cli.accounted_by_name(name)
            job = found[-1] if found else None
        if job is None:
            return None
        handle: Handle = {
            "slurm_job_id": int(job["job_id"]),
            "name": name,
            "dir": str(run_dir),
            "log": str(self.jobs_dir / job_id / "job.log"),
            "nodes": int(str((_load_json(run_dir / "launch.json") or {}).get("nnodes", 1))),
        }
        if run_dir.is_dir():
            _write_json(run_dir / "submitted.json", handle)
        return handle

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
        self.cli.invalidate()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    # -- beyond the protocol --------------------------------------------------------------

    def sync_accounts(self, projects: Iterable[tuple[str, str, float]]) -> None:
        """Slurm accounts for every (project, organisation, shares): a full sync."""
        by_user: dict[str, list[tuple[str, str, float]]] = {}
        for project, organisation, shares in projects:
            user = self._user_for(organisation)
            by_user.setdefault(user, []).append((project, organisation, shares))
        for user, items in by_user.items():
            self.accounts.sync(items, user)

    # -- helpers --------------------------------------------------------------------------

    def _container(self, job: LaunchRequest) -> str:
        """The OCI bundle the run starts in ("" without an image); LaunchError when the
        image cannot be run here, before anything is written."""
        if not oci_images.image_of(job):
            return ""
        if len(job.placement.nodes) > 1:
            # The batch step (in the container) would need srun and Slurm's config inside.
            raise LaunchError(
                "a container image on more than one Slurm node is not supported yet: "
                "run it on one node, or use modules"
            )
        shared = [str(self.jobs_dir), *([job.spec.workdir] if job.spec.workdir else [])]
        return oci_images.bundle(job, self.images, shared)

    def _stop(self, handle: Handle, stop: dict[str, object]) -> None:
        """Write the stop request into every rank's folder, then SIGTERM the whole job;
        the in-job supervisors enforce the grace (SIGKILL) without aidc."""
        run_dir = Path(handle["dir"])
        if (run_dir / "exit.json").exists():
            return  # it ended already; poll reports how
        for k in range(int(handle.get("nodes") or 1)):
            rank_dir = run_dir / f"rank-{k}"
            rank_dir.mkdir(parents=True, exist_ok=True)
            _write_json(rank_dir / "stop.json", stop)
        slurm_id = str(handle["slurm_job_id"])
        job = self.cli.jobs().get(int(slurm_id))
        state = job_state(job)[0] if job else ""
        with contextlib.suppress(SlurmError):
            if state in ("PENDING", "CONFIGURING", "REQUEUED", "SUSPENDED"):
                self.cli.run(["scancel", slurm_id])
            elif state in ACTIVE and int(handle.get("nodes") or 1) == 1:
                # The batch step is the job's supervisor: signal it and its children.
                self.cli.run(["scancel", "--signal=TERM", "--full", slurm_id])
            elif state in ACTIVE:
                # Only the srun step's processes (the ranks and their jobs): srun itself
                # would end the step at once on a SIGTERM, cutting the grace short.
                self.cli.run(["scancel", "--signal=TERM", slurm_id])
        self.cli.invalidate()

    def _find(self, name: str, *, fresh: bool) -> dict[str, Any] | None:
        """The job named ``name`` that slurmctld knows (any state), if any."""
        if fresh:
            self.cli.invalidate()
        return next((j for j in self.cli.jobs().values() if j.get("name") == name), None)

    def _latest_attempt(self, job_id: str) -> int | None:
        runs = [p.name.removeprefix("attempt-") for p in (self.jobs_dir / job_id).glob("attempt-*")]
        attempts = [int(r) for r in runs if r.isdigit()]
        pattern = re.compile(rf"aidc-{re.escape(job_id)}-(\d+)\Z")
        for j in self.cli.jobs().values():
            m = pattern.match(str(j.get("name", "")))
            if m:
                attempts.append(int(m.group(1)))
        return max(attempts) if attempts else None

    def _addresses(self, names: list[str]) -> dict[str, str]:
        """NodeAddr of each node (what MASTER_ADDR must be), from sinfo."""
        wanted = set(names)
        return {
            str(n["name"]): str(n.get("address") or n["name"])
            for n in self.cli.nodes()
            if n.get("name") in wanted
        }

    def _user_for(self, organisation: str) -> str:
        if self.identity != "organisation":
            return self.service_user
        user = self.users.get(organisation)
        if user is None:
            raise LaunchError(
                f"engines.slurm.users has no Unix user for organisation {organisation!r}"
            )
        return user

    def _checkpoint_dir(self, job_id: str) -> Path:
        path = self.checkpoints_dir / job_id
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.checkpoints_dir, 0o700 if self.identity == "service" else 0o711)
        os.chmod(path, 0o700)
        return path


def _job_name(job_id: str, attempt: int) -> str:
    return f"aidc-{job_id}-{attempt}"


def from_config(config: EngineConfig) -> SlurmEngine:
    from aidc.engines.slurm_config import parse_options

    opts = parse_options(config)
    return SlurmEngine(config.home, [p.name for p in config.pools], grace_s=config.grace_s, **opts)
