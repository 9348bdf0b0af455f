"""One center, two engines at once: an ``hpc`` pool on Slurm (scripts/slurm-dev) and a
``cloud`` pool on Ray (the session's local Ray cluster), as the inventory names them. The
scheduler places over both; each job runs on the engine of the pool it was placed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aidc.controller import Controller
from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.services import jobs
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.store import migrate
from aidc.store.db import Database
from tests.conformance.backend_ray import RayBackend
from tests.conformance.backend_slurm import SlurmBackend
from tests.conftest import skip_or_fail
from tests.integration.tenants import make_tenants
from tests.integration.test_jobs_service import wait_for


@pytest.fixture
def center(tmp_path: Path) -> Iterator[Center]:
    slurm, ray = SlurmBackend(), RayBackend()
    for backend in (slurm, ray):
        why = backend.unavailable()
        if why is not None:
            skip_or_fail(f"engine {backend.kind} is not available here: {why}")
    db = Database(f"sqlite:///{tmp_path / 'aidc.db'}")
    migrate.upgrade(db.engine)
    engines = {
        "slurm": slurm.engine(tmp_path / "home", 2.0),
        "ray": ray.engine(tmp_path / "home", 2.0),
    }
    c = Center(db=db, engines=engines)
    pools, nodes = [], []
    for backend, engine in ((slurm, engines["slurm"]), (ray, engines["ray"])):
        p, n = backend.inventory(engine)
        pools += p
        nodes += n
    sync_inventory(c, pools, nodes)
    yield c
    for e in engines.values():
        e.close()
    db.dispose()


def test_an_hpc_pool_on_slurm_and_a_cloud_pool_on_ray_run_side_by_side(center: Center) -> None:
    t = make_tenants(center)
    controller = Controller(center, tick_s=0.2)
    controller.start()
    try:
        # Slurm has 4 nodes of 4 GPUs, Ray 2: five whole-node jobs need both pools.
        spec = {"project": "acme-a", "accelerators": 4, "time_limit_s": 300}
        script = 'echo "on $AIDC_NODE"\nsleep 8\n'
        ids = [
            jobs.submit(center, t.alice, JobSpec.model_validate({**spec, "script": script})).id
            for _ in range(5)
        ]

        def all_running() -> bool:
            return all(jobs.get_job(center, t.alice, j).state == JobState.RUNNING for j in ids)

        wait_for(all_running, timeout=60)
        pools = [jobs.get_job(center, t.alice, j).placement["pool"] for j in ids]
        assert sorted(set(pools)) == ["cloud", "hpc"], pools
        terminal = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST)
        wait_for(
            lambda: all(jobs.get_job(center, t.alice, j).state in terminal for j in ids),
            timeout=90,
        )
        for job, pool in zip(ids, pools, strict=True):
            view = jobs.get_job(center, t.alice, job)
            assert view.state == JobState.SUCCEEDED, view.state_reason
            log = jobs.read_log(center, t.alice, job, 0, 1 << 16).data.decode()
            node = log.split("on ", 1)[1].split()[0]
            assert node.startswith("ray-" if pool == "cloud" else "n"), (pool, log)
    finally:
        controller.stop()
