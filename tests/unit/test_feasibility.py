"""Feasibility: whether any empty cluster of these nodes could run a request, and if not why."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings

from aidc.core.resources import Node, NodeState, Request
from aidc.scheduler import PendingJob, Snapshot, plan
from aidc.scheduler.feasibility import why_infeasible
from tests.unit.strategies import nodes, requests

GPU = Node("g1", "gpu", 32, 256 * 1024, "a100", tuple(range(8)))
GPU2 = Node("g2", "gpu", 32, 256 * 1024, "a100", tuple(range(8)))
CPU = Node("c1", "cpu", 64, 512 * 1024)
CLUSTER = (GPU, GPU2, CPU)


def req(
    accelerators: int = 0,
    accelerator_type: str | None = None,
    nodes: int = 1,
    cpus: int = 1,
    memory_mib: int = 1024,
) -> Request:
    return Request(
        nodes, cpus, memory_mib, accelerators, (accelerator_type,) if accelerator_type else ()
    )


def test_feasible_requests() -> None:
    assert why_infeasible(req(8, "a100", nodes=2, cpus=32), CLUSTER) is None
    assert why_infeasible(req(1), CLUSTER) is None
    assert why_infeasible(req(cpus=64, memory_mib=512 * 1024), CLUSTER) is None


def test_node_states_do_not_matter() -> None:
    drained = (replace(GPU, state=NodeState.DRAINED),)
    assert why_infeasible(req(8, "a100"), drained) is None


def test_no_nodes_at_all() -> None:
    field, msg = why_infeasible(req(), ()) or ("", "")
    assert field == "nodes"
    assert "no nodes" in msg


def test_too_many_accelerators_per_node() -> None:
    assert why_infeasible(req(9, "a100"), CLUSTER) == (
        "accelerators",
        "asks for 9 per node but the largest suitable node has 8",
    )


def test_unknown_or_absent_type_lists_available_types() -> None:
    field, msg = why_infeasible(req(1, "h100"), CLUSTER) or ("", "")
    assert field == "accelerator_type"
    assert "no node has h100" in msg
    assert "available types: a100" in msg


def test_accelerators_on_a_cpu_only_cluster() -> None:
    field, msg = why_infeasible(req(1), (CPU,)) or ("", "")
    assert field == "accelerator_type"
    assert "CPU only" in msg


def test_too_many_nodes() -> None:
    field, msg = why_infeasible(req(1, "a100", nodes=3), CLUSTER) or ("", "")
    assert field == "nodes"
    assert "3 nodes" in msg
    assert "at most 2" in msg


def test_nodes_of_different_pools_do_not_add_up() -> None:
    other = replace(GPU2, pool="other")
    field, msg = why_infeasible(req(1, nodes=2), (GPU, other)) or ("", "")
    assert field == "nodes"
    assert "at most 1" in msg


def test_too_many_cpus() -> None:
    assert why_infeasible(req(cpus=65), CLUSTER) == (
        "cpus",
        "asks for 65 per node but the largest suitable node has 64",
    )


def test_cpus_are_judged_on_nodes_of_the_asked_type() -> None:
    # The CPU node has 64 cores, but a GPU job can only use the 32 of an a100 node.
    field, msg = why_infeasible(req(1, "a100", cpus=33), CLUSTER) or ("", "")
    assert field == "cpus"
    assert "33" in msg
    assert "has 32" in msg


def test_too_much_memory() -> None:
    field, msg = why_infeasible(req(memory_mib=600 * 1024), CLUSTER) or ("", "")
    assert field == "memory_mib"
    assert str(600 * 1024) in msg
    assert str(512 * 1024) in msg


def test_no_single_node_has_everything() -> None:
    many_cpus = Node("c1", "cpu", 64, 1024)
    much_memory = Node("c2", "cpu", 2, 65536)
    verdict = why_infeasible(req(cpus=32, memory_mib=32768), (many_cpus, much_memory))
    # Not "accelerators": this job asked for none.
    assert verdict == ("cpus", "no single node has both 32 cpus and 32768 MiB of memory")


def test_no_single_gpu_node_has_everything() -> None:
    few_gpus = replace(GPU, devices=(0,))
    few_cpus = replace(GPU2, cpus=2)
    field, _ = why_infeasible(req(4, cpus=8), (few_gpus, few_cpus)) or ("", "")
    assert field == "accelerators"


@settings(max_examples=300, deadline=None)
@given(nodes(), requests)
def test_feasible_iff_an_empty_cluster_admits_it(cluster: tuple[Node, ...], r: Request) -> None:
    up = tuple(replace(n, state=NodeState.UP) for n in cluster)
    empty = Snapshot(up, (), (PendingJob("j", r, 0.0),), {})
    verdict = why_infeasible(r, cluster)
    assert (verdict is None) == bool(plan(empty).admit), verdict
    if verdict is not None:
        field, msg = verdict
        assert field in {"nodes", "accelerator_type", "accelerators", "cpus", "memory_mib"}
        assert msg
