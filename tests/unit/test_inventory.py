"""Inventory: this host as a node, virtual accelerators, and TOML inventory files."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import psutil
import pytest

from aidc.core.resources import Node, NodeState, Pool
from aidc.inventory import host
from aidc.inventory.host import local_node, parse_virtual_accelerators
from aidc.inventory.nvml import GpuInfo, discover_nvidia_gpus
from aidc.inventory.toml_file import InventoryError, load_inventory

NO_NVIDIA = shutil.which("nvidia-smi") is None


# Virtual accelerators.


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("4xa100", (4, "a100")),
        ("1xh100", (1, "h100")),
        (" 8 X L40S ", (8, "l40s")),
        ("64xrngd", (64, "rngd")),
    ],
)
def test_parse_virtual_accelerators(text: str, parsed: tuple[int, str]) -> None:
    assert parse_virtual_accelerators(text) == parsed


@pytest.mark.parametrize("text", ["", "a100", "4", "4*a100", "x a100", "-1xa100"])
def test_virtual_accelerators_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"COUNTxTYPE, e\.g\. 4xa100"):
        parse_virtual_accelerators(text)


@pytest.mark.parametrize("text", ["4xv100", "4xcpu", "4xa100x"])
def test_virtual_accelerators_unknown_type_lists_known(text: str) -> None:
    with pytest.raises(ValueError, match="unknown accelerator type") as info:
        parse_virtual_accelerators(text)
    assert "h100, h200, a100" in str(info.value)
    assert "cpu" not in str(info.value).split("use one of")[1]


@pytest.mark.parametrize("text", ["0xa100", "65xa100"])
def test_virtual_accelerators_count_range(text: str) -> None:
    with pytest.raises(ValueError, match="between 1 and 64"):
        parse_virtual_accelerators(text)


# The local host.


def test_no_nvidia_gpus_without_a_driver() -> None:
    if not NO_NVIDIA:
        pytest.skip("nvidia-smi is present; this host may have NVIDIA GPUs")
    assert discover_nvidia_gpus() == []


def host_facts() -> tuple[int, int, str]:
    return (
        len(os.sched_getaffinity(0)),
        psutil.virtual_memory().total // (1024 * 1024),
        socket.gethostname().split(".")[0],
    )


@pytest.fixture
def no_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "discover_nvidia_gpus", list)


def test_local_node_is_this_host(no_gpus: None) -> None:
    cpus, memory, name = host_facts()
    node = local_node()
    assert (node.cpus, node.memory_mib, node.name) == (cpus, memory, name)
    assert node.pool == "local"
    assert node.state is NodeState.UP


def test_local_node_cpu_only(no_gpus: None) -> None:
    node = local_node(pool="cpu")
    assert (node.accelerator_type, node.devices) == ("cpu", ())
    assert node.labels["pool"] == "cpu"
    assert node.labels["source"] == "host"


def test_local_node_virtual_accelerators(no_gpus: None) -> None:
    node = local_node(virtual_accelerators="4xa100")
    assert (node.accelerator_type, node.devices) == ("a100", (0, 1, 2, 3))
    assert node.labels["source"] == "virtual"
    assert node.cpus == len(os.sched_getaffinity(0))


def test_local_node_bad_virtual_accelerators(no_gpus: None) -> None:
    with pytest.raises(ValueError, match="4xa100"):
        local_node(virtual_accelerators="four a100s")


@pytest.mark.skipif(not NO_NVIDIA, reason="needs a host without NVIDIA GPUs")
def test_real_local_node_without_gpus_uses_virtual_ones() -> None:
    assert local_node(virtual_accelerators="2xh100").devices == (0, 1)
    assert local_node().accelerator_type == "cpu"


def test_real_gpus_win_over_virtual_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = [
        GpuInfo(0, "NVIDIA H100 80GB HBM3", "GPU-0", 81559, "h100"),
        GpuInfo(1, "NVIDIA L40S", "GPU-1", 46068, "l40s"),
        GpuInfo(2, "NVIDIA H100 80GB HBM3", "GPU-2", 81559, "h100"),
    ]
    monkeypatch.setattr(host, "discover_nvidia_gpus", lambda: gpus)
    node = local_node(virtual_accelerators="8xa100")
    assert (node.accelerator_type, node.devices) == ("h100", (0, 2))
    assert node.labels["gpu-model"] == "NVIDIA H100 80GB HBM3"
    assert node.labels["source"] == "nvml"


# TOML inventory files.

GOOD = """
[[pools]]
name = "gpu"

[[pools]]
name = "hpc"
engine = "slurm"

[[nodes]]
name = "gpu-01"
pool = "gpu"
cpus = 32
memory = "256G"
accelerator = "A100"
count = 8
labels = { rack = "r1" }

[[nodes]]
name = "cpu-01"
pool = "hpc"
cpus = 64
memory = 131072
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    return path


def test_good_inventory(tmp_path: Path) -> None:
    pools, nodes = load_inventory(write(tmp_path, GOOD))
    assert pools == [Pool("gpu", "local"), Pool("hpc", "slurm")]
    assert nodes == [
        Node(
            "gpu-01", "gpu", 32, 256 * 1024, "a100", tuple(range(8)), {"rack": "r1", "pool": "gpu"}
        ),
        Node("cpu-01", "hpc", 64, 131072, "cpu", (), {"pool": "hpc"}),
    ]


def test_defaults_for_a_minimal_node(tmp_path: Path) -> None:
    _, nodes = load_inventory(
        write(tmp_path, '[[pools]]\nname="p"\n[[nodes]]\nname="n"\npool="p"\n')
    )
    assert nodes == [Node("n", "p", 1, 1024, "cpu", (), {"pool": "p"})]


def test_empty_inventory(tmp_path: Path) -> None:
    assert load_inventory(write(tmp_path, "")) == ([], [])


def node_toml(**fields: str) -> str:
    base = {"name": '"n1"', "pool": '"gpu"', "cpus": "8", "memory": '"16G"'}
    base.update(fields)
    body = "\n".join(f"{k} = {v}" for k, v in base.items())
    return f'[[pools]]\nname = "gpu"\n\n[[nodes]]\nname = "n0"\npool = "gpu"\n\n[[nodes]]\n{body}\n'


@pytest.mark.parametrize(
    ("fields", "where", "hint"),
    [
        ({"pool": '"nope"'}, "nodes[1].pool", "'nope' is not a pool declared"),
        ({"accelerator": '"v100"'}, "nodes[1].accelerator", "unknown type 'v100'; use one of h100"),
        ({"memory": '"lots"'}, "nodes[1].memory", "512M, 16G"),
        ({"memory": "0"}, "nodes[1].memory", "positive"),
        ({"memory": "1.5"}, "nodes[1].memory", ""),
        ({"cpus": "0"}, "nodes[1].cpus", ">= 1"),
        ({"cpus": '"8"'}, "nodes[1].cpus", "whole number"),
        ({"count": "-1", "accelerator": '"h100"'}, "nodes[1].count", ">= 0"),
        ({"count": "2"}, "nodes[1].count", "0 for cpu nodes"),
        ({"name": '"bad name"'}, "nodes[1].name", "'bad name' is not a valid name"),
        ({"name": '"n0"'}, "nodes[1].name", "'n0'"),
        ({"labels": '"rack1"'}, "nodes[1].labels", ""),
    ],
)
def test_node_errors_name_entry_and_field(
    tmp_path: Path, fields: dict[str, str], where: str, hint: str
) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(tmp_path, node_toml(**fields)))
    assert str(info.value).startswith(f"{where}: ")
    assert hint in str(info.value)


def test_duplicate_node_name_says_which_entries(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"nodes\[1\]\.name: 'n0' .*nodes\[0\]"):
        load_inventory(write(tmp_path, node_toml(name='"n0"')))


def test_pool_errors(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"^pools\[1\]\.name: '' is not a valid name"):
        load_inventory(write(tmp_path, '[[pools]]\nname="a"\n[[pools]]\nengine="x"\n'))
    with pytest.raises(InventoryError, match=r"^pools\[1\]\.name: 'a' .*pools\[0\]"):
        load_inventory(write(tmp_path, '[[pools]]\nname="a"\n[[pools]]\nname="a"\n'))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[pools]\nname = "gpu"\n', "pools"),  # a table where an array of tables belongs
        ('pools = ["gpu"]\n', "pools[0]"),
        ('[[pools]]\nname="gpu"\n[nodes]\nname = "n"\n', "nodes"),
        ("nodes = 3\n", "nodes"),
    ],
)
def test_wrong_shapes_are_inventory_errors(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(tmp_path, text))
    assert str(info.value).startswith(f"{where}: ")
    assert "[[" in str(info.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[[nodes]\nname = \n")
    with pytest.raises(InventoryError, match="not valid TOML") as info:
        load_inventory(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(InventoryError, match=f"{path} does not exist"):
        load_inventory(path)


def test_copies_declare_many_identical_nodes(tmp_path: Path) -> None:
    _, nodes = load_inventory(write(tmp_path, node_toml(name='"gpu"', copies="12")))
    assert [n.name for n in nodes] == ["n0"] + [f"gpu-{k:03d}" for k in range(1, 13)]
    assert {(n.cpus, n.memory_mib, n.labels["pool"]) for n in nodes[1:]} == {(8, 16384, "gpu")}
    _, many = load_inventory(write(tmp_path, node_toml(name='"x"', copies="1000")))
    assert (many[1].name, many[-1].name) == ("x-0001", "x-1000")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"copies": "0"}, r"^nodes\[1\]\.copies: must be a whole number >= 1"),
        ({"copies": '"4"'}, r"^nodes\[1\]\.copies: must be a whole number"),
        ({"copies": "true"}, r"^nodes\[1\]\.copies"),
        # A generated name that another entry has: both entries named.
        ({"name": '"n0-001"'}, "^$"),
    ],
)
def test_copies_errors_name_entry_and_field(
    tmp_path: Path, fields: dict[str, str], match: str
) -> None:
    if match == "^$":
        text = node_toml(**fields) + '\n[[nodes]]\nname = "n0"\npool = "gpu"\ncopies = 2\n'
        text = text.replace('name = "n0"\npool = "gpu"\n\n', 'name = "m"\npool = "gpu"\n\n', 1)
        match = r"nodes\[2\]\.name: 'n0-001' is already used by nodes\[1\]"
    else:
        text = node_toml(**fields)
    with pytest.raises(InventoryError, match=match):
        load_inventory(write(tmp_path, text))
