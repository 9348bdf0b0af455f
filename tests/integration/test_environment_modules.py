"""An environment's modules loaded for real with Lmod (Debian's lmod) on the Slurm cluster
(scripts/slurm-dev) and the shared local Ray cluster: a small Lua modulefile in a folder the
engine's ``modulepath`` names sets a variable and puts a folder first on PATH, and the
job's command sees both, on one node and on every rank of a two-node job. An unknown
module, or a node without the module system, fails the run before its command starts, with
the reason in its status and its log."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from aidc.engines.base import Environment, LaunchRequest, Outcome
from aidc.engines.env_modules import DEFAULT_INIT
from aidc.engines.ray import RayEngine
from aidc.engines.registry import EngineConfigError
from aidc.engines.slurm import SlurmEngine
from tests import ray_cluster
from tests.conftest import skip_or_fail
from tests.integration import test_ray_engine as ray_t
from tests.integration import test_slurm_engine as slurm_t

SCRIPT = 'echo "demo=$AIDC_DEMO_MODULE tool=$(command -v demo-tool) rank=${RANK:-0}"; demo-tool'
SH = ["sh", "-c", SCRIPT]
DEMO = Environment("hpc", modules=("aidc-demo/1.0",))


@pytest.fixture(scope="module")
def modulepath(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not os.path.isfile(DEFAULT_INIT):
        skip_or_fail(f"Lmod is not installed ({DEFAULT_INIT} is missing: apt-get install lmod)")
    root = tmp_path_factory.mktemp("modules")
    tools = root / "demo-bin"
    tools.mkdir()
    (tools / "demo-tool").write_text("#!/bin/sh\necho demo-tool ran\n")
    (tools / "demo-tool").chmod(0o755)
    (root / "mods" / "aidc-demo").mkdir(parents=True)
    (root / "mods" / "aidc-demo" / "1.0.lua").write_text(
        f'setenv("AIDC_DEMO_MODULE", "loaded-1.0")\nprepend_path("PATH", "{tools}")\n'
    )
    return str(root / "mods")


def with_env(job: LaunchRequest, environment: Environment) -> LaunchRequest:
    return replace(job, environment=environment)


def slurm_up() -> None:
    env = {**os.environ, "AIDC_SLURM_DIR": str(slurm_t.SLURM_DIR)}
    if subprocess.run([str(slurm_t.SCRIPT), "status"], env=env, capture_output=True).returncode:
        skip_or_fail(f"no Slurm cluster in {slurm_t.SLURM_DIR} (run scripts/slurm-dev up)")


@pytest.fixture(scope="module")
def slurm(modulepath: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmEngine]:
    slurm_up()
    home = tmp_path_factory.mktemp("slurm-home")
    e = SlurmEngine(
        home, ["hpc"], grace_s=slurm_t.GRACE_S, conf=slurm_t.CONF, modulepath=modulepath
    )
    yield e
    e.close()


def test_slurm_jobs_load_their_modules_on_every_node(slurm: SlurmEngine, tmp_path: Path) -> None:
    one = slurm.launch(with_env(slurm_t.request("mod1", ("n2",), command=SH), DEMO))
    two = slurm.launch(with_env(slurm_t.request("mod2", ("n3", "n4"), command=SH), DEMO))
    unknown = Environment("hpc", modules=("aidc-demo/1.0", "no-such-module"))
    bad = slurm.launch(with_env(slurm_t.request("mod3", ("n1",), command=SH), unknown))
    bare = SlurmEngine(
        tmp_path / "home", ["hpc"], conf=slurm_t.CONF, module_init="/opt/none/init/bash"
    )
    absent = bare.launch(with_env(slurm_t.request("mod4", ("n1",), command=SH), DEMO))
    for h in (one, two):
        status, log = slurm_t.wait_state(slurm, h, timeout=60), slurm_t.log_of(slurm, h)
        assert status.outcome is Outcome.SUCCEEDED, (status, log)
        assert log.count("demo=loaded-1.0 tool=") == h["nodes"] and "demo-tool ran" in log
    assert "rank=0" in slurm_t.log_of(slurm, two) and "rank=1" in slurm_t.log_of(slurm, two)
    status, log = slurm_t.wait_state(slurm, bad, timeout=60), slurm_t.log_of(slurm, bad)
    assert status.outcome is Outcome.FAILED, status
    assert "module load aidc-demo/1.0 no-such-module failed on node n1" in status.reason
    assert '"no-such-module"' in status.reason and "demo=" not in log
    assert "Lmod has detected the following error" in log
    status, log = slurm_t.wait_state(bare, absent, timeout=60), slurm_t.log_of(bare, absent)
    assert status.outcome is Outcome.FAILED and "demo=" not in log, (status, log)
    assert "no module system on node n1 (/opt/none/init/bash does not exist" in status.reason
    assert status.reason in log
    bare.close()


@pytest.fixture(scope="module")
def ray(modulepath: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayEngine]:
    reason = ray_cluster.unavailable()
    if reason:
        skip_or_fail(reason)
    cluster = ray_cluster.ensure()
    home = tmp_path_factory.mktemp("ray-home")
    e = RayEngine(
        cluster.address, home / "ray", grace_s=ray_t.GRACE_S, token_file=cluster.token_file,
        modulepath=modulepath,
    )  # fmt: skip
    yield e
    e.close()


def test_ray_jobs_load_their_modules_in_the_driver_and_on_every_rank(ray: RayEngine) -> None:
    one = ray.launch(with_env(ray_t.request("mod1", SCRIPT, ("ray-2",)), DEMO))
    two = ray.launch(with_env(ray_t.request("mod2", SCRIPT, ("ray-1", "ray-2")), DEMO))
    unknown = Environment("hpc", modules=("no-such-module",))
    bad = ray.launch(with_env(ray_t.request("mod3", SCRIPT), unknown))
    for h, n in ((one, 1), (two, 2)):
        status, log = ray_t.wait_done(ray, h), ray_t.log_of(ray, h)
        assert status.outcome is Outcome.SUCCEEDED, (status, log)
        assert log.count("demo=loaded-1.0 tool=") == n and "demo-tool ran" in log
    assert "rank=1" in ray_t.log_of(ray, two)
    status, log = ray_t.wait_done(ray, bad), ray_t.log_of(ray, bad)
    assert status.outcome is Outcome.FAILED, status
    assert "module load no-such-module failed on node ray-1" in status.reason
    assert "Lmod has detected the following error" in log and "demo=" not in log


@pytest.mark.parametrize("key", ["modulepath", "module_init"])
def test_module_options_must_be_absolute_paths(key: str, tmp_path: Path) -> None:
    from aidc.engines import ray as ray_engine
    from aidc.engines.registry import EngineConfig

    options = {"address": "http://127.0.0.1:1", key: "modules"}
    config = EngineConfig("ray", tmp_path, (), (), 1.0, options)
    with pytest.raises(EngineConfigError, match=f"engines.ray.{key}: 'modules' is not absolute"):
        ray_engine.from_config(config)
