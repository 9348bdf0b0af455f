"""Container images of environments: an image name resolved to an OCI bundle the Slurm
engine runs with ``sbatch --container`` (Slurm's OCI support, oci.conf with runc), and the
refusal every other engine gives, so that a job never runs outside the image it named.

An image is a folder ``<images>/<name>/`` holding ``config.json`` (the OCI runtime spec) and
``rootfs/``: Slurm starts the bundle's ``rootfs/`` whatever ``root.path`` says. The center
prepares the bundles (``umoci unpack``, ``skopeo copy`` + ``oci-image-tool``, or a folder of
files); they must bind-mount the shared jobs folder at the same path, since the in-job
supervisor runs inside the container and reads and writes there, and they must have the
supervisor's Python 3.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from aidc.engines.base import LaunchError, LaunchRequest


def image_of(job: LaunchRequest) -> str:
    return job.environment.image if job.environment is not None else ""


def _names(job: LaunchRequest) -> str:
    env = job.environment
    assert env is not None
    return f"environment {env.name!r} names the container image {env.image!r}, and"


def refuse_image(job: LaunchRequest, engine: str) -> None:
    """LaunchError when ``job``'s environment names an image: ``engine`` runs no containers."""
    if image_of(job):
        raise LaunchError(
            f"{_names(job)} the {engine} engine cannot run containers: not running it outside "
            "the image (use a pool on Slurm with engines.slurm.images, or an environment "
            "without an image)"
        )


def bundle(job: LaunchRequest, images: str, shared: list[str]) -> str:
    """The OCI bundle folder of ``job``'s image under ``images``, checked: it exists, has a
    ``config.json`` and ``rootfs/``, and mounts every folder of ``shared`` (the run's
    files) at its own path. Raises LaunchError naming what is missing."""
    image = image_of(job)
    if not images:
        raise LaunchError(
            f"{_names(job)} this Slurm pool runs no containers (engines.slurm.images is not "
            "set): not running it outside the image"
        )
    if ".." in PurePosixPath(image).parts:
        raise LaunchError(f"image {image!r}: '..' is not allowed in an image name")
    path = Path(images) / image
    config_path = path / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as e:
        why = "no such image" if isinstance(e, FileNotFoundError) else f"unreadable: {e}"
        raise LaunchError(
            f"image {image!r} is not an OCI bundle in {images} ({config_path}: {why})"
        ) from None
    if not (path / "rootfs").is_dir():
        raise LaunchError(f"image {image!r}: {path / 'rootfs'} is missing (the bundle's root)")
    mounted = [
        str(m.get("destination", ""))
        for m in config.get("mounts") or []
        if isinstance(m, dict) and m.get("source") == m.get("destination")
    ]
    for folder in shared:
        if not any(_within(folder, m) for m in mounted if m):
            raise LaunchError(
                f"image {image!r} does not mount {folder} (the run's files, on the shared "
                f"filesystem): add a bind mount of it at the same path to {config_path}"
            )
    return str(path)


def _within(path: str, top: str) -> bool:
    path, top = os.path.abspath(path), os.path.abspath(top)
    return os.path.commonpath([path, top]) == top
