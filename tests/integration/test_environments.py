"""Named environments: a real virtualenv built once and reused, jobs that run in it on the
local engine, modules and images passed on, and organisations kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidc.controller import Controller
from aidc.core.jobspec import JobSpec
from aidc.schemas_notebooks import EnvironmentCreate
from aidc.services import environments, jobs
from aidc.services.center import Center
from aidc.services.errors import Conflict, Forbidden, Invalid, NotFound
from aidc.settings import Settings
from tests.integration.tenants import Tenants, make_tenants
from tests.integration.test_jobs_service import wait_for

# Satisfied by the pip that `python -m venv` installs: the build needs no network.
OFFLINE = "# the venv's own pip\npip\n"


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def create(center: Center, settings: Settings, who, name: str, **kw: object):  # type: ignore[no-untyped-def]
    return environments.create(center, settings, who, EnvironmentCreate(name=name, **kw))  # type: ignore[arg-type]


def test_a_requirements_list_is_built_once_and_jobs_run_in_it(
    center: Center, t: Tenants, settings: Settings
) -> None:
    env = create(center, settings, t.bob, "tools", requirements=OFFLINE)
    assert env.build_state == "building" and env.requirements == "pip\n"
    with pytest.raises(Invalid) as early:  # not usable while it builds
        jobs.submit(center, t.bob, JobSpec(project="acme-a", command=["true"], environment="tools"))
    assert early.value.field == "environment"
    wait_for(lambda: environments.get(center, t.bob, "tools").build_state != "building", 120)
    built = environments.get(center, t.bob, "tools")
    assert built.build_state == "ready", environments.build_log(center, t.bob, "tools")
    assert "pip install" in environments.build_log(center, t.bob, "tools")
    venv = Path(built.venv)
    marker = venv / "built-once"
    marker.write_text("x")
    # The same list under another name (or organisation) reuses the cached venv.
    again = create(center, settings, t.carol, "same", requirements="pip\n")
    assert again.venv == built.venv and again.build_state == "ready" and marker.exists()
    controller = Controller(center, tick_s=0.05)
    controller.start()
    try:
        spec = JobSpec(
            project="acme-a",
            command=["sh", "-c", 'echo "$AIDC_ENVIRONMENT $VIRTUAL_ENV"; command -v python'],
            environment="tools",
        )
        job = jobs.submit(center, t.bob, spec)
        assert job.spec["environment"] == "tools"
        wait_for(lambda: jobs.get_job(center, t.bob, job.id).state == "SUCCEEDED", 30)
        out = jobs.read_log(center, t.bob, job.id, 0, 10_000).data.decode()
        assert out.splitlines()[0] == f"tools {venv}"
        assert out.splitlines()[1] == str(venv / "bin" / "python")
    finally:
        controller.stop()


def test_modules_are_passed_and_an_image_is_refused_on_the_local_engine(
    center: Center, t: Tenants, settings: Settings
) -> None:
    env = create(center, settings, t.bob, "hpc", modules=["cuda/12.4", "nccl"])
    assert env.build_state == "none" and env.venv == ""
    create(center, settings, t.bob, "boxed", image="nvcr.io/x:1")
    controller = Controller(center, tick_s=0.05)
    controller.start()
    try:
        spec = JobSpec(
            project="acme-a",
            command=["sh", "-c", 'echo "$AIDC_ENVIRONMENT_MODULES|$AIDC_ENVIRONMENT"'],
            environment="hpc",
        )
        job = jobs.submit(center, t.bob, spec)
        boxed = jobs.submit(center, t.bob, spec.model_copy(update={"environment": "boxed"}))
        wait_for(lambda: jobs.get_job(center, t.bob, job.id).state == "SUCCEEDED", 30)
        out = jobs.read_log(center, t.bob, job.id, 0, 10_000).data.decode()
        assert out.strip() == "cuda/12.4 nccl|hpc"
        # Never outside the image it names: the local engine runs no containers.
        wait_for(lambda: jobs.get_job(center, t.bob, boxed.id).state == "FAILED", 30)
        reason = jobs.get_job(center, t.bob, boxed.id).state_reason
        assert "names the container image 'nvcr.io/x:1'" in reason
        assert "the local engine cannot run containers" in reason
    finally:
        controller.stop()


def test_environments_belong_to_one_organisation(
    center: Center, t: Tenants, settings: Settings
) -> None:
    create(center, settings, t.bob, "hpc", modules=["cuda/12.4"])
    with pytest.raises(Conflict):
        create(center, settings, t.alice, "hpc", modules=["other"])
    with pytest.raises(NotFound):
        environments.get(center, t.carol, "hpc")
    assert environments.list_environments(center, t.carol) == []
    assert [e.name for e in environments.list_environments(center, t.root)] == ["hpc"]
    with pytest.raises(Invalid) as e:  # Beta's project cannot use Acme's environment
        jobs.submit(center, t.carol, JobSpec(project="beta-b", command=["true"], environment="hpc"))
    assert e.value.field == "environment"
    with pytest.raises(Forbidden):
        create(center, settings, t.vic, "mine")
    for fields, field in (
        ({"modules": ["bad module"]}, "modules"),
        ({"requirements": "-e /srv/code"}, "requirements"),
        ({"image": "a b"}, "image"),
    ):
        with pytest.raises(Invalid) as bad:
            create(center, settings, t.bob, "x", **fields)
        assert bad.value.field == field
