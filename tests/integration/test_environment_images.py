"""An environment's container image: on the Slurm cluster (scripts/slurm-dev, oci.conf with
runc) a run starts inside the image's OCI bundle with ``sbatch --container``, its
supervisor and command both inside; an image that is not there, or a bundle that does not
mount the run's files, is refused at launch. The local and Ray engines run no containers:
they refuse such a job rather than run it outside the image."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from aidc.engines.base import Environment, LaunchError, LaunchRequest, Outcome
from aidc.engines.ray import RayEngine
from aidc.engines.slurm import SlurmEngine
from tests.conftest import skip_or_fail
from tests.integration import test_ray_engine as ray_t
from tests.integration import test_slurm_engine as slurm_t
from tests.integration.test_environment_modules import slurm_up

IMAGE = Environment("boxed", image="aidc/test:1")
SCRIPT = (
    'echo "image=$(cat /etc/image-name) env=$AIDC_ENVIRONMENT_IMAGE"; '
    "touch /usr/aidc-x 2>/dev/null || echo usr is read-only"
)


def make_bundle(folder: Path, mounts: list[str]) -> None:
    """An OCI bundle whose rootfs is a small folder of its own (with /etc/image-name) and
    this host's /usr read-only (sh and python3 for the supervisor), made by runc's own
    ``runc spec``."""
    folder.mkdir(parents=True)
    subprocess.run(["runc", "spec", "--bundle", str(folder)], check=True)
    root = folder / "rootfs"
    for d in ("etc", "usr", "tmp", "proc", "dev", "sys"):
        (root / d).mkdir(parents=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        (root / link).symlink_to(f"usr/{link}")
    (root / "etc" / "image-name").write_text("aidc-test-image\n")
    config = json.loads((folder / "config.json").read_text())
    config["process"]["terminal"] = False
    config["root"] = {"path": "rootfs", "readonly": True}
    binds = [("/usr", "ro"), *((m, "rw") for m in mounts)]
    config["mounts"] += [
        {"destination": p, "type": "bind", "source": p, "options": ["rbind", mode]}
        for p, mode in binds
    ]
    (folder / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmEngine]:
    slurm_up()
    if shutil.which("runc") is None or not (slurm_t.SLURM_DIR / "oci.conf").exists():
        skip_or_fail("no runc or no oci.conf in the Slurm cluster (scripts/slurm-dev up)")
    home = tmp_path_factory.mktemp("slurm-home")
    images = tmp_path_factory.mktemp("images")
    make_bundle(images / "aidc" / "test:1", [str(home / "slurm")])
    make_bundle(images / "unmounted", [])
    e = SlurmEngine(home, ["hpc"], grace_s=slurm_t.GRACE_S, conf=slurm_t.CONF, images=str(images))
    yield e
    e.close()


def with_env(job: LaunchRequest, environment: Environment) -> LaunchRequest:
    return replace(job, environment=environment)


def test_a_slurm_run_starts_inside_its_image(slurm: SlurmEngine, tmp_path: Path) -> None:
    job = with_env(slurm_t.request("img1", ("n2",), command=["sh", "-c", SCRIPT]), IMAGE)
    h = slurm.launch(job)
    status, log = slurm_t.wait_state(slurm, h, timeout=60), slurm_t.log_of(slurm, h)
    # Its files in the image (not this host's /etc), this host's /usr mounted read-only.
    assert "image=aidc-test-image env=aidc/test:1" in log, (status, log)
    assert "usr is read-only" in log and status.outcome is Outcome.SUCCEEDED, status
    refusals = [
        (replace(IMAGE, image="aidc/missing:2"), ("n1",), "is not an OCI bundle in"),
        (replace(IMAGE, image="unmounted"), ("n1",), f"does not mount {slurm.jobs_dir}"),
        (IMAGE, ("n1", "n2"), "on more than one Slurm node is not supported"),
    ]
    for environment, nodes, message in refusals:
        refused = with_env(slurm_t.request("img2", nodes), environment)
        with pytest.raises(LaunchError, match=message):
            slurm.launch(refused)
    bare = SlurmEngine(tmp_path / "home", ["hpc"], conf=slurm_t.CONF)
    with pytest.raises(LaunchError, match=r"engines\.slurm\.images is not set"):
        bare.launch(with_env(slurm_t.request("img3"), IMAGE))
    bare.close()
    assert not (slurm.jobs_dir / refused.job_id).exists()  # nothing left behind


def test_the_ray_engine_refuses_an_image(tmp_path: Path) -> None:
    ray = RayEngine("http://127.0.0.1:9", tmp_path / "ray")
    with pytest.raises(LaunchError, match="the ray engine cannot run containers"):
        ray.launch(with_env(ray_t.request("img5", "true"), IMAGE))
    assert not (tmp_path / "ray" / "img5").exists()
    ray.close()
