"""Notebook sessions read datasets like batch jobs (a read-only view in the run's folder, a
live grant for restricted data), and their idle limit comes from the interactive class of
the policy. Real local engine, controller and JupyterLab; SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from aidc.controller import Controller
from aidc.schemas_notebooks import NotebookStart
from aidc.services import jobs, notebooks, policy
from aidc.services.center import Center
from aidc.services.errors import Forbidden, Invalid
from aidc.settings import Settings
from aidc.store.models_notebooks import NotebookRow
from tests.e2e.notebook_kernel import execute, need_jupyterlab
from tests.integration.datasets_env import DataTenants, make_dataset, upload


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", notebook_idle_s=600)


def start(center: Center, settings: Settings, who, **kw: object):  # type: ignore[no-untyped-def]
    body = NotebookStart.model_validate({"project": "acme-a", **kw})
    return notebooks.start(center, settings, who, body)


def wait_for(pred: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_restricted_dataset_without_a_grant_is_refused_at_start(
    dc: Center, people: DataTenants, settings: Settings
) -> None:
    make_dataset(dc, people.t.root, "ehr", "restricted", sector="healthcare")
    upload(dc, people.t.root, "ehr", {"records.csv": b"a,b\n1,2\n"})
    with pytest.raises(Forbidden, match="no live access grant"):
        start(dc, settings, people.t.bob, datasets=["ehr@1:/data"])
    with pytest.raises(Invalid) as e:  # a dataset that does not exist names the field
        start(dc, settings, people.t.bob, datasets=["nothing@1:/data"])
    assert e.value.field == "datasets"
    assert notebooks.list_sessions(dc, people.t.root) == []
    assert jobs.list_jobs(dc, people.t.bob) == []
    assert not any((settings.home / "notebooks").glob("*"))


def test_a_session_sees_its_public_dataset_read_only_in_a_kernel(
    dc: Center, people: DataTenants, settings: Settings
) -> None:
    need_jupyterlab()
    make_dataset(dc, people.t.root, "roads", "public")
    upload(dc, people.t.root, "roads", {"counts.csv": b"road,cars\nA,3\n", "sub/x.txt": b"x"})
    nb = start(dc, settings, people.t.bob, datasets=["roads:/data"])
    controller = Controller(dc, tick_s=0.1)
    controller.start()
    try:
        wait_for(lambda: notebooks.get(dc, people.t.bob, nb.id).state != "starting")
        ready = notebooks.get(dc, people.t.bob, nb.id)
        assert ready.state == "ready", ready.message
        job = jobs.get_job(dc, people.t.bob, nb.job_id)
        assert job.spec["datasets"] == [{"name": "roads", "version": 1, "path": "/data"}]
        with dc.db.read() as s:
            row = s.get(NotebookRow, nb.id)
            assert row is not None and row.address is not None
            address, token = row.address, row.jupyter_token
        base = f"http://{address}"
        r = httpx.post(
            f"{base}/sessions/{nb.id}/api/kernels",
            headers={"Authorization": f"token {token}"},
            json={"name": "python3"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        code = (
            "import os; d = os.environ['AIDC_DATASET_ROADS']\n"
            "print(open(os.path.join(d, 'counts.csv')).read().splitlines()[1])\n"
            "print(os.environ['AIDC_DATASET_ROADS_PATH'], oct(os.stat(d).st_mode & 0o777))\n"
        )
        out = execute(base, nb.id, r.json()["id"], code, {"Authorization": f"token {token}"})
        assert out == "A,3\n/data 0o555\n"  # the view is read-only (the test may run as root)
    finally:
        notebooks.stop(dc, people.t.bob, nb.id)
        wait_for(lambda: jobs.get_job(dc, people.t.bob, nb.job_id).state.is_terminal)
        controller.stop()


def test_the_interactive_class_sets_the_idle_limit(
    dc: Center, people: DataTenants, settings: Settings
) -> None:
    admin = people.t.root
    assert start(dc, settings, people.t.bob).idle_timeout_s == 600  # the setting
    policy.set_policy(dc, admin, "[classes.interactive]\nidle_s = 120\n")
    assert start(dc, settings, people.t.bob).idle_timeout_s == 120
    assert start(dc, settings, people.t.bob, idle_timeout_s=30).idle_timeout_s == 30
    with pytest.raises(Invalid, match="interactive class") as e:
        start(dc, settings, people.t.bob, idle_timeout_s=121)
    assert e.value.field == "idle_timeout_s"
    policy.set_policy(dc, admin, "[classes.interactive]\nidle_s = 0\n")
    assert start(dc, settings, people.t.bob, idle_timeout_s=10_000).idle_timeout_s == 10_000
