"""Where a run's interactive server listens: the address file of exactly that run, and only
from engines that say they can."""

from __future__ import annotations

import json
from pathlib import Path

from aidc.engines.base import Capability, Environment
from aidc.engines.interactive import (
    address_file,
    engine_address,
    environment_env,
    read_address,
    remote_environment_env,
)


def test_the_address_of_the_handles_own_attempt(tmp_path: Path) -> None:
    job_dir = tmp_path / "jobs" / "abc"
    (job_dir / "attempt-2").mkdir(parents=True)
    handle = {"dir": str(job_dir / "attempt-2")}
    assert read_address(handle) is None
    address_file(job_dir, 1).write_text(json.dumps({"host": "10.0.0.5", "port": 8888}))
    assert read_address(handle) is None  # attempt 1's file is not this run's
    address_file(job_dir, 2).write_text(json.dumps({"host": "10.0.0.6", "port": 9999}))
    assert read_address(handle) == "10.0.0.6:9999"
    address_file(job_dir, 2).write_text(json.dumps({"host": "fd00::1", "port": 9999}))
    assert read_address(handle) == "[fd00::1]:9999"
    address_file(job_dir, 2).write_text("{not json")
    assert read_address(handle) is None
    assert read_address({"dir": str(job_dir)}) is None


class Plain:
    capabilities = frozenset({Capability.MULTI_NODE})

    def interactive_address(self, handle: dict) -> str | None:
        return "1.2.3.4:5"


class Interactive(Plain):
    capabilities = frozenset({Capability.INTERACTIVE_PORTS})


def test_only_engines_with_the_capability_are_asked() -> None:
    assert engine_address(Plain(), {"dir": "/x"}) is None  # type: ignore[arg-type]
    assert engine_address(Interactive(), {"dir": "/x"}) == "1.2.3.4:5"  # type: ignore[arg-type]
    assert engine_address(Interactive(), None) is None  # type: ignore[arg-type]
    assert engine_address(None, {"dir": "/x"}) is None


def test_environment_variables() -> None:
    env = Environment("torch", venv="/envs/v", modules=("cuda/12.4",), image="img:1")
    local = environment_env(env, "/usr/bin")
    assert local["PATH"] == "/envs/v/bin:/usr/bin" and local["VIRTUAL_ENV"] == "/envs/v"
    assert local["AIDC_ENVIRONMENT"] == "torch"
    remote = remote_environment_env(env)
    assert "PATH" not in remote and "VIRTUAL_ENV" not in remote
    assert remote["AIDC_ENVIRONMENT_MODULES"] == "cuda/12.4"
    assert remote["AIDC_ENVIRONMENT_IMAGE"] == "img:1"
    assert environment_env(None, "/usr/bin") == {}
