"""One local 2-node Ray cluster per test session, started by the code behind
``aidc dev ray-up`` (the same processes, ports and auth token), shared by the Ray engine's
integration tests and the conformance backend, and stopped at the session's end
(conftest's ``pytest_sessionfinish``). A test that stops it (``break_engine``) brings it
back with ``ensure()``: same folder, same ports, same address."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from aidc.engines import ray_dev

NODES = 2
GPUS = 4
CPUS = 8

_root: Path | None = None


def unavailable() -> str | None:
    if importlib.util.find_spec("ray") is None:
        return "ray is not installed (make test installs it, or pip install 'aidc[ray]')"
    return None


def root() -> Path:
    global _root
    if _root is None:
        # Short: Ray's socket paths under it must stay below 107 characters.
        _root = Path(tempfile.mkdtemp(prefix="aidc-ray-"))
    return _root


def ensure() -> ray_dev.DevCluster:
    """The session's cluster, started (or restarted) if it does not answer."""
    return ray_dev.up(root(), gpus=GPUS, nodes=NODES, cpus=CPUS)


def crash() -> None:
    """Kill every process of the cluster at once, jobs included, as a crash of the whole
    cluster would (ensure() starts it again)."""
    ray_dev.down(root(), crash=True)


def shutdown() -> None:
    """At the session's end: stop the cluster if one was started, remove its folder."""
    global _root
    if _root is None:
        return
    ray_dev.down(_root)
    shutil.rmtree(_root, ignore_errors=True)
    _root = None
