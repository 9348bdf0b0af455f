"""How a run says where its interactive server listens, the same on every engine.

The in-job launcher (``notebook_launcher.py``) picks a port on its node and writes
``$AIDC_JOB_DIR/interactive-<attempt>.json`` (``{"host": ..., "port": ...}``) before it starts
the server. Every engine keeps a run in ``<jobs dir>/<job>/attempt-<N>/`` with that folder
as the handle's ``dir``, so the engine finds the file from the handle alone, and a file of
an earlier attempt is never taken for the current one.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from aidc.engines.base import Capability, Engine, Environment, Handle, InteractivePorts

# Where the launcher lives; jobs run it with any Python 3 (standard library only).
LAUNCHER = Path(__file__).with_name("notebook_launcher.py")


def address_file(job_dir: Path, attempt: int) -> Path:
    return job_dir / f"interactive-{attempt}.json"


def read_address(handle: Handle) -> str | None:
    """``host:port`` from the run's address file, or None if it has not been written."""
    run_dir = Path(str(handle.get("dir") or ""))
    attempt = run_dir.name.removeprefix("attempt-")
    if not attempt.isdigit():
        return None
    try:
        data = json.loads(address_file(run_dir.parent, int(attempt)).read_text())
        host, port = str(data["host"]), int(data["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def engine_address(engine: Engine | None, handle: Handle | None) -> str | None:
    """Where ``engine`` says the run of ``handle`` listens; None while unknown, or for an
    engine without ``Capability.INTERACTIVE_PORTS``."""
    if engine is None or handle is None or Capability.INTERACTIVE_PORTS not in engine.capabilities:
        return None
    if not isinstance(engine, InteractivePorts):
        return None
    return engine.interactive_address(handle)


def environment_env(environment: Environment | None, path: str) -> dict[str, str]:
    """The variables a job in ``environment`` gets: its name (and modules and image, for
    the job or a wrapper to use), and for a virtualenv, its ``bin`` first on ``path``."""
    if environment is None:
        return {}
    env = {"AIDC_ENVIRONMENT": environment.name}
    if environment.modules:
        env["AIDC_ENVIRONMENT_MODULES"] = " ".join(environment.modules)
    if environment.image:
        env["AIDC_ENVIRONMENT_IMAGE"] = environment.image
    if environment.venv:
        env["VIRTUAL_ENV"] = environment.venv
        env["PATH"] = f"{environment.venv}/bin:{path}" if path else f"{environment.venv}/bin"
    return env


def remote_environment_env(environment: Environment | None) -> dict[str, str]:
    """``environment_env`` for engines whose nodes do not have this server's virtualenvs
    (Slurm, Ray): the name, modules and image only; PATH is the node's."""
    if environment is None:
        return {}
    return environment_env(dataclasses.replace(environment, venv=""), "")
