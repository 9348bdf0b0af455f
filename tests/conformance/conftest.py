"""The rig the conformance suite runs on: a real center (SQLite), a controller and one
engine from a Backend, with two tenants."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aidc.controller import Controller
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.schemas import JobView
from aidc.services import jobs
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.store import migrate
from aidc.store.db import Database
from tests.conformance.backend import Backend
from tests.conftest import skip_or_fail
from tests.integration.tenants import Tenants, make_tenants

BACKENDS = {
    "local": "tests.conformance.backend_local:LocalBackend",
    "slurm": "tests.conformance.backend_slurm:SlurmBackend",
    "ray": "tests.conformance.backend_ray:RayBackend",
}
GRACE_S = 2.0
_made: dict[str, Backend] = {}


def backend_for(kind: str) -> Backend:
    """One backend object per kind for the whole session (clusters start once)."""
    if kind not in _made:
        module, _, cls = BACKENDS[kind].partition(":")
        try:
            _made[kind] = getattr(importlib.import_module(module), cls)()
        except ModuleNotFoundError as e:
            skip_or_fail(f"no conformance backend for engine {kind} ({e})")
    return _made[kind]


@dataclass
class Rig:
    backend: Backend
    center: Center
    controller: Controller
    tenants: Tenants
    home: Path
    tmp: Path  # scratch space jobs and the test share

    def submit(self, **spec: object) -> str:
        fields = {"project": "acme-a", "time_limit_s": 600, **spec}
        return jobs.submit(self.center, self.tenants.alice, JobSpec.model_validate(fields)).id

    def job(self, job_id: str) -> JobView:
        return jobs.get_job(self.center, self.tenants.alice, job_id)

    def log(self, job_id: str) -> str:
        chunk = jobs.read_log(self.center, self.tenants.alice, job_id, 0, 1 << 20)
        return chunk.data.decode(errors="replace")

    def wait(
        self, job_id: str, done: Callable[[JobView], bool], timeout: float, what: str
    ) -> JobView:
        deadline = time.monotonic() + timeout
        while True:
            view = self.job(job_id)
            if done(view):
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} not {what} after {timeout:.0f}s: {view}")
            time.sleep(0.1)

    def wait_state(self, job_id: str, *states: JobState, timeout: float = 60) -> JobView:
        names = "/".join(states)
        return self.wait(
            job_id, lambda v: v.state in states, timeout + self.backend.margin_s, names
        )

    def restart_controller(self, **options: float) -> None:
        """Stop the controller and drop its engine object, as a server restart does; then
        a new engine object over the same cluster and a new controller that recovers."""
        self.controller.stop()
        for engine in self.center.engines.values():
            engine.close()
        engine = self.backend.engine(self.home, GRACE_S)
        self.center.engines = {self.backend.kind: engine}
        self.controller = _controller(self.center, **options)
        self.controller.start()


def _controller(center: Center, **options: float) -> Controller:
    return Controller(center, tick_s=0.2, **options)  # type: ignore[arg-type]


@pytest.fixture(params=sorted(BACKENDS))
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    backend = backend_for(request.param)
    why = backend.unavailable()
    if why is not None:
        skip_or_fail(f"engine {backend.kind} is not available here: {why}")
    db = Database(f"sqlite:///{tmp_path / 'aidc.db'}")
    migrate.upgrade(db.engine)
    home = tmp_path / "home"
    engine = backend.engine(home, GRACE_S)
    center = Center(db=db, engines={backend.kind: engine})
    pools, nodes = backend.inventory(engine)
    sync_inventory(center, pools, nodes)
    tenants = make_tenants(center)
    # Where jobs leave markers for the test: as root, local jobs run as their
    # organisation's user (isolation), so it is writable by all (sticky, like /tmp).
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.chmod(scratch, 0o1777)
    rig = Rig(backend, center, _controller(center), tenants, home, scratch)
    rig.controller.start()
    try:
        yield rig
    finally:
        _cancel_all(rig)
        rig.controller.stop()
        for e in center.engines.values():
            e.close()
        db.dispose()


def _cancel_all(rig: Rig, timeout: float = 30.0) -> None:
    """Leave the cluster empty for the next test: cancel what is left and wait for it."""
    root = rig.tenants.root
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [v for v in jobs.list_jobs(rig.center, root) if not v.state.is_terminal]
        if not left:
            return
        for view in left:
            if not view.cancel_requested:
                jobs.cancel_job(rig.center, root, view.id)
        time.sleep(0.2)
