"""Simulations for center operators: run a trace under policies, keep the result and report.

Only center admins may start or read them (a trace shows every tenant's work). A trace is a
file under the traces directory, named relative to it (never a path that leads out of it), or
uploaded with the request. Each simulation gets a folder under the simulations directory:
``request.json``, ``status.json``, the uploaded trace if any, and, once done, ``result.json``,
``report.html`` and the PNGs. It runs in its own process (``aidc.services.simulation_worker``)
so that a long simulation never slows the API; the folder is the only shared state, so any
API worker process can answer for any simulation.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil

from aidc.core.policy import PRESETS
from aidc.core.policy_text import PolicyError, loads
from aidc.core.tenancy import Principal
from aidc.schemas_simulation import SimulationCreate, SimulationView
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid, NotFound
from aidc.settings import Settings
from aidc.sim import experiment, report
from aidc.sim.sources import PRESETS as CLUSTERS
from aidc.sim.sources import load_cluster

STATUS, REQUEST, TRACE, LOG = "status.json", "request.json", "trace.upload", "worker.log"
_ID = re.compile(r"^[0-9a-f]{16}$")
# CLI option -> request field, to name the field at fault.
FIELDS = {
    "--trace": "trace",
    "--format": "format",
    "--cluster": "cluster",
    "--policy": "policies",
    "--limit-median": "limit_median",
    "--limit-sigma": "limit_sigma",
    "--add-nodes": "add_nodes",
    "--scale-load": "scale_load",
    "--until": "until_s",
    "--points": "points",
}


def _operator(p: Principal) -> None:
    if not p.is_center_admin:
        raise Forbidden("only center admins can run and read simulations")


def trace_path(settings: Settings, name: str) -> Path:
    """``name`` inside the traces directory; Invalid if it leads outside or is no file."""
    root = settings.traces_path().resolve()
    if Path(name).is_absolute():
        raise Invalid("trace: give a name relative to the traces directory", field="trace")
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise Invalid("trace: must name a file inside the traces directory", field="trace")
    if not path.is_file():
        raise Invalid(f"trace: no trace {name!r} in the traces directory", field="trace")
    return path


def setup(body: SimulationCreate, trace: Path, label: str) -> experiment.Setup:
    """The experiment ``body`` asks for; Invalid naming the field at fault."""
    if body.cluster not in CLUSTERS:  # never a path: no server file is read on request
        raise Invalid(
            f"cluster: unknown cluster {body.cluster!r}; use one of {', '.join(CLUSTERS)}",
            field="cluster",
        )
    try:
        cluster = load_cluster(body.cluster)
    except (ValueError, KeyError, OSError) as e:
        raise Invalid(f"cluster: {e.args[0] if e.args else e}", field="cluster") from None
    policies = []
    for i, choice in enumerate(body.policies):
        if choice.toml is None and choice.name not in PRESETS:
            raise Invalid(
                f"policies.{i}.name: unknown preset {choice.name!r}; use one of "
                f"{', '.join(PRESETS)}, or give the policy's toml",
                field=f"policies.{i}.name",
            )
        try:
            policy = loads(choice.toml if choice.toml is not None else f'preset = "{choice.name}"')
        except PolicyError as e:
            raise Invalid(f"policies.{i}.toml: {e}", field=f"policies.{i}.toml") from None
        policies.append((choice.name, policy))
    s = experiment.Setup(
        trace=trace,
        format=body.format,
        cluster=cluster,
        policies=policies,
        seed=body.seed,
        oracle=body.oracle,
        median_factor=body.limit_median,
        sigma=body.limit_sigma,
        add_nodes=tuple(body.add_nodes),
        scale_load=body.scale_load,
        until_s=body.until_s,
        points=body.points,
        trace_label=label,
    )
    try:
        experiment.check(s)
    except experiment.OptionError as e:
        field = FIELDS.get(e.option, e.option)
        message = str(e).removeprefix(f"{e.option}: ")
        raise Invalid(f"{field}: {message}", field=field) from None
    return s


def start(
    center: Center, settings: Settings, p: Principal, body: SimulationCreate
) -> SimulationView:
    """Check the request, then run it in the background; the simulation as it starts."""
    _operator(p)
    if body.trace is not None:
        trace, label = trace_path(settings, body.trace), body.trace
        setup(body, trace, label)
    else:
        setup(body, Path(os.devnull), "upload")
    sim_id = secrets.token_hex(8)
    folder = settings.simulations_path() / sim_id
    folder.mkdir(parents=True, exist_ok=False)
    request = body.model_dump(exclude={"trace_text"})
    if body.trace_text is not None:
        (folder / TRACE).write_text(body.trace_text)
        request["trace_path"] = str(folder / TRACE)
    else:
        request["trace_path"] = str(trace)
    _write(folder / REQUEST, request)
    status = {"state": "running", "created_at": center.clock(), "created_by": p.username}
    _write(folder / STATUS, status)
    with open(folder / LOG, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aidc.services.simulation_worker", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=proc.wait, daemon=True, name=f"sim-{sim_id}").start()
    return _view(sim_id, folder, with_result=False)


def get(settings: Settings, p: Principal, sim_id: str) -> SimulationView:
    _operator(p)
    return _view(sim_id, _folder(settings, sim_id), with_result=True)


def html(settings: Settings, p: Principal, sim_id: str) -> str:
    _operator(p)
    folder = _folder(settings, sim_id)
    view = _view(sim_id, folder, with_result=False)
    if view.state != "succeeded":
        raise NotFound(f"simulation {sim_id} has no report: it is {view.state}")
    return (folder / report.HTML).read_text()


def listing(settings: Settings, p: Principal, limit: int = 50) -> list[SimulationView]:
    """The newest simulations first, without their results."""
    _operator(p)
    root = settings.simulations_path()
    found = [
        _view(d.name, d, with_result=False)
        for d in (root.iterdir() if root.is_dir() else ())
        if _ID.match(d.name) and (d / STATUS).is_file()
    ]
    return sorted(found, key=lambda v: (-v.created_at, v.id))[:limit]


def _folder(settings: Settings, sim_id: str) -> Path:
    folder = settings.simulations_path() / sim_id
    if not _ID.match(sim_id) or not (folder / STATUS).is_file():
        raise NotFound(f"no simulation {sim_id!r}")
    return folder


def _view(sim_id: str, folder: Path, *, with_result: bool) -> SimulationView:
    status = json.loads((folder / STATUS).read_text())
    pid = status.get("pid")
    if status["state"] == "running" and pid is not None and not _alive(pid):
        status |= {"state": "failed", "error": "the simulation process ended without a result"}
    request = json.loads((folder / REQUEST).read_text())
    request.pop("trace_path", None)
    result = None
    if with_result and status["state"] == "succeeded":
        result = json.loads((folder / report.RESULT).read_text())
    return SimulationView(id=sim_id, request=request, result=result, **_public(status))


def _public(status: dict[str, Any]) -> dict[str, Any]:
    keys = ("state", "created_at", "created_by", "finished_at", "error")
    return {k: status[k] for k in keys if k in status}


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


def write_status(folder: Path, **changes: Any) -> None:
    """Update ``status.json`` (the worker's side)."""
    status = json.loads((folder / STATUS).read_text())
    _write(folder / STATUS, status | changes)
