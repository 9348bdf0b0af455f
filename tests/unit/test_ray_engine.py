"""The Ray engine's pure parts: configuration errors naming the option, how a Ray node
becomes an aidc node, and what a run asks Ray for. No Ray cluster (and no ray import)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from aidc.core.jobspec import JobSpec
from aidc.core.resources import Node, NodePlacement, NodeState, Placement, Pool
from aidc.engines.base import LaunchRequest
from aidc.engines.ray import RayEngine, from_config
from aidc.engines.ray_parts import entrypoint_resources, ranks, ray_node, submission_id
from aidc.engines.registry import EngineConfig, EngineConfigError
from tests.conftest import skip_or_fail

HAS_RAY = importlib.util.find_spec("ray") is not None


def config(tmp_path: Path, pools: tuple[str, ...] = ("cloud",), **options: object) -> EngineConfig:
    return EngineConfig(
        "ray", tmp_path, tuple(Pool(p, "ray") for p in pools), (), 5.0, dict(options)
    )


@pytest.mark.parametrize(
    ("options", "pools", "message"),
    [
        ({}, ("cloud",), r"engines\.ray\.address: required"),
        ({"address": "127.0.0.1:8265"}, ("cloud",), r"engines\.ray\.address: required"),
        ({"address": "http://h:8265", "speed": 1}, ("cloud",), r"engines\.ray\.speed: unknown"),
        ({"address": "http://h:8265", "jobs_dir": 3}, ("cloud",), r"engines\.ray\.jobs_dir"),
        (
            {"address": "http://h:8265", "place_timeout_s": 0},
            ("cloud",),
            r"engines\.ray\.place_timeout_s",
        ),
        ({"address": "http://h:8265"}, ("a", "b"), r"engines\.ray: one Ray engine serves one"),
    ],
)
def test_configuration_mistakes_name_the_option(
    tmp_path: Path, options: dict[str, object], pools: tuple[str, ...], message: str
) -> None:
    with pytest.raises(EngineConfigError, match=message):
        from_config(config(tmp_path, pools, **options))


def test_a_valid_configuration_builds_the_engine_without_asking_the_cluster(
    tmp_path: Path,
) -> None:
    if not HAS_RAY:
        skip_or_fail("ray is not installed (make test installs it)")
    # Nothing listens there: building must not need the cluster (the server starts anyway).
    engine = from_config(
        config(tmp_path, address="http://127.0.0.1:9/", accelerator="h100", token_file="/t")
    )
    assert isinstance(engine, RayEngine)
    assert (engine.address, engine.jobs_dir, engine.pool) == (
        "http://127.0.0.1:9",
        tmp_path / "ray",
        "cloud",
    )
    assert engine.grace_s == 5.0 and engine.accelerator == "h100"
    engine.close()


def entry(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "node_id": "abc123",
        "node_ip": "10.0.0.7",
        "state": "ALIVE",
        "resources_total": {
            "CPU": 16.0,
            "GPU": 4.0,
            "memory": 64 * 2**30,
            "aidc_node:gpu-7": 1000.0,
            "aidc_accelerator:h100": 4.0,
        },
    }
    return {**base, **over}


def test_ray_nodes_become_aidc_nodes(tmp_path: Path) -> None:
    def node_of(e: dict[str, object]) -> Node:
        return ray_node(e, "cloud", "a100")

    node = node_of(entry())
    assert (node.name, node.pool, node.cpus, node.memory_mib) == ("gpu-7", "cloud", 16, 65536)
    assert (node.accelerator_type, node.devices, node.state) == ("h100", (0, 1, 2, 3), NodeState.UP)
    assert node.labels == {"pool": "cloud", "ray_node_id": "abc123", "ip": "10.0.0.7"}
    dead = node_of(entry(state="DEAD", state_message="heartbeat lost"))
    assert dead.state is NodeState.DOWN and "heartbeat lost" in dead.state_reason
    # Ray's own accelerator_type resource, else the configured default.
    res = {"CPU": 8.0, "GPU": 2.0, "accelerator_type:A100": 1.0, "aidc_node:n2": 1000.0}
    assert node_of(entry(resources_total=res)).accelerator_type == "a100"
    res = {"CPU": 8.0, "aidc_node:n3": 1000.0}
    plain = node_of(entry(resources_total=res))
    assert (plain.accelerator_type, plain.devices) == ("a100", ())
    # A node without aidc's resource cannot be pinned to: drained, with the fix.
    anon = node_of(entry(resources_total={"CPU": 8.0}))
    assert anon.state is NodeState.DRAINED and "--resources" in anon.state_reason


def request(nodes: tuple[str, ...], gpus: int) -> LaunchRequest:
    spec = JobSpec(project="p", command=["true"], accelerators=gpus, nodes=len(nodes))
    placement = Placement(
        "cloud", tuple(NodePlacement(n, 2, 1024, "a100", tuple(range(gpus))) for n in nodes)
    )
    return LaunchRequest("j1", "p", spec, placement, 60.0, attempt=3)


def test_what_a_run_asks_of_ray(tmp_path: Path) -> None:
    assert submission_id("j1", 3) == "aidc-j1-3"
    one = request(("gpu-7",), 2)
    assert entrypoint_resources(one) == {
        "entrypoint_num_cpus": 2,
        "entrypoint_resources": {"aidc_node:gpu-7": 0.001},
        "entrypoint_num_gpus": 2,
        "entrypoint_memory": 1024 * 2**20,
    }
    run = ranks(request(("a", "b"), 1), tmp_path, str(tmp_path), tmp_path)
    assert [r["bundle"] for r in run] == [
        {"aidc_node:a": 0.001, "CPU": 2, "GPU": 1, "memory": 1024 * 2**20},
        {"aidc_node:b": 0.001, "CPU": 2, "GPU": 1, "memory": 1024 * 2**20},
    ]
    assert [r["env"]["RANK"] for r in run] == ["0", "1"]
    assert {r["env"]["WORLD_SIZE"] for r in run} == {"2"}
    assert run[1]["env"]["AIDC_NODE"] == "b"
    assert run[0]["device_vars"] == ["CUDA_VISIBLE_DEVICES", "AIDC_VISIBLE_DEVICES"]
    # No server secrets: only the pass-through variables and the job's own.
    assert not {k for k in run[0]["env"] if "DATABASE" in k or "TOKEN" in k}


def test_an_inventory_file_without_the_address_names_the_option(tmp_path: Path) -> None:
    from aidc.bootstrap import build_engines
    from aidc.inventory.toml_file import load_inventory
    from aidc.settings import Settings

    path = tmp_path / "inventory.toml"
    path.write_text('[[pools]]\nname = "cloud"\nengine = "ray"\n\n[engines.ray]\n')
    pools, nodes = load_inventory(path)
    with pytest.raises(EngineConfigError, match=r"engines\.ray\.address: required"):
        build_engines(Settings(home=tmp_path / "home", inventory=path), pools, nodes)


def test_the_driver_names_exit_codes_and_signals() -> None:
    from aidc.engines.ray_entry import _result

    assert _result(0, None) == {"outcome": "succeeded", "reason": "exit code 0", "exit_code": 0}
    assert _result(3, None)["reason"] == "exit code 3"
    assert _result(-9, None)["reason"] == "killed by signal SIGKILL"
    assert _result(-15, 1) == {
        "outcome": "failed",
        "reason": "rank 1: killed by signal SIGTERM",
        "exit_code": -15,
    }
