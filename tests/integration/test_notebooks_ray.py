"""A notebook session on the Ray engine (the shared local Ray cluster, tests/ray_cluster.py):
JupyterLab runs as a Ray Job on the node aidc chose, listens on the address the Ray driver
reports for that node, and the proxy reaches it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aidc import bootstrap
from aidc.api.app import create_app
from aidc.controller import Controller
from aidc.engines import ray_dev
from aidc.schemas_notebooks import NotebookStart
from aidc.services import auth, jobs, notebooks
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.settings import Settings
from aidc.store import migrate
from aidc.store.db import Database
from tests.conformance.backend_ray import RayBackend
from tests.conftest import skip_or_fail
from tests.e2e.notebook_kernel import need_jupyterlab
from tests.integration.tenants import make_tenants
from tests.integration.test_jobs_service import wait_for


@pytest.fixture
def center(tmp_path: Path) -> Iterator[Center]:
    need_jupyterlab()
    ray = RayBackend()
    why = ray.unavailable()
    if why is not None:
        skip_or_fail(f"engine ray is not available here: {why}")
    db = Database(f"sqlite:///{tmp_path / 'aidc.db'}")
    migrate.upgrade(db.engine)
    engine = ray.engine(tmp_path / "home", 2.0)
    c = Center(db=db, engines={"ray": engine})
    pools, nodes = ray.inventory(engine)
    sync_inventory(c, pools, nodes)
    yield c
    engine.close()
    db.dispose()


def test_a_session_on_ray_is_reached_through_the_proxy(center: Center, tmp_path: Path) -> None:
    t = make_tenants(center)
    settings = Settings(home=tmp_path / "home")
    controller = Controller(center, tick_s=0.1)
    controller.start()
    try:
        nb = notebooks.start(center, settings, t.bob, NotebookStart(project="acme-a"))
        wait_for(lambda: notebooks.get(center, t.bob, nb.id).state != "starting", 120)
        ready = notebooks.get(center, t.bob, nb.id)
        assert ready.state == "ready", ready.message
        job = jobs.get_job(center, t.bob, nb.job_id)
        assert job.placement is not None and job.placement["pool"] == "cloud"
        address = json.loads(
            (tmp_path / "home" / "ray" / nb.job_id / "interactive-1.json").read_text()
        )
        # The Ray node's IP, as its driver reports it (the launcher alone would bind loopback).
        assert address["host"] == ray_dev._host_ip()
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
