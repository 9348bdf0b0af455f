"""A notebook session on the Slurm engine (scripts/slurm-dev): JupyterLab runs as a Slurm
job on the node aidc chose, listens on that node's NodeAddr, and the proxy reaches it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aidc import bootstrap
from aidc.api.app import create_app
from aidc.controller import Controller
from aidc.schemas_notebooks import NotebookStart
from aidc.services import auth, jobs, notebooks
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.settings import Settings
from aidc.store import migrate
from aidc.store.db import Database
from tests.conformance.backend_slurm import SlurmBackend
from tests.conftest import skip_or_fail
from tests.e2e.notebook_kernel import need_jupyterlab
from tests.integration.tenants import make_tenants
from tests.integration.test_jobs_service import wait_for


@pytest.fixture
def center(tmp_path: Path) -> Iterator[Center]:
    need_jupyterlab()
    slurm = SlurmBackend()
    why = slurm.unavailable()
    if why is not None:
        skip_or_fail(f"engine slurm is not available here: {why}")
    db = Database(f"sqlite:///{tmp_path / 'aidc.db'}")
    migrate.upgrade(db.engine)
    engine = slurm.engine(tmp_path / "home", 2.0)
    c = Center(db=db, engines={"slurm": engine})
    pools, nodes = slurm.inventory(engine)
    sync_inventory(c, pools, nodes)
    yield c
    engine.close()
    db.dispose()


def test_a_session_on_slurm_is_reached_through_the_proxy(center: Center, tmp_path: Path) -> None:
    t = make_tenants(center)
    settings = Settings(home=tmp_path / "home")
    controller = Controller(center, tick_s=0.1)
    controller.start()
    try:
        body = NotebookStart(project="acme-a", accelerators=1, accelerator_type="a100")
        nb = notebooks.start(center, settings, t.bob, body)
        wait_for(lambda: notebooks.get(center, t.bob, nb.id).state != "starting", 90)
        ready = notebooks.get(center, t.bob, nb.id)
        assert ready.state == "ready", ready.message
        job = jobs.get_job(center, t.bob, nb.job_id)
        assert job.placement is not None and job.placement["pool"] == "hpc"
        address = json.loads(
            (tmp_path / "home" / "slurm" / nb.job_id / "interactive-1.json").read_text()
        )
        assert address["host"] == "127.0.0.1"  # the dev cluster's NodeAddr
        app = create_app(settings, bootstrap.Running(center, None))
        with TestClient(app) as http:
            bob = {"Authorization": f"Bearer {auth.issue_token(center, 'bob')}"}
            carol = {"Authorization": f"Bearer {auth.issue_token(center, 'carol')}"}
            r = http.get(f"/sessions/{nb.id}/api/status", headers=bob)
            assert r.status_code == 200 and "last_activity" in r.json()
            assert http.get(f"/sessions/{nb.id}/api/status", headers=carol).status_code == 403
        notebooks.stop(center, t.bob, nb.id)
        wait_for(lambda: jobs.get_job(center, t.bob, nb.job_id).state == "CANCELLED", 60)
    finally:
        controller.stop()
