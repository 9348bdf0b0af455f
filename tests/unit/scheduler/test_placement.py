"""Fitting: packing, spread, gangs on racks, heterogeneous types."""

from __future__ import annotations

from dataclasses import replace

from aidc.core.resources import Node, NodeState, Request
from aidc.scheduler import PendingJob
from tests.unit.scheduler.build import GIB, admitted, gpu_node, pending, run, running, why


def test_single_node_jobs_pack_onto_the_busiest_node_that_fits() -> None:
    nodes = [gpu_node("n1"), gpu_node("n2")]
    active = [running("r", "n2", (0, 1, 2, 3, 4, 5))]
    p = run(nodes, [pending("j", 2)], active)
    assert p.admit[0].placement.nodes[0].node == "n2"
    assert p.admit[0].placement.nodes[0].devices == (6, 7)


def test_spread_takes_the_emptiest_node() -> None:
    nodes = [gpu_node("n1"), gpu_node("n2")]
    active = [running("r", "n2", (0, 1, 2, 3, 4, 5))]
    p = run(nodes, [pending("j", 2, spread=True)], active)
    assert p.admit[0].placement.nodes[0].node == "n1"


def test_gang_is_all_or_nothing_with_the_same_request_on_each_node() -> None:
    nodes = [gpu_node("n1"), gpu_node("n2"), gpu_node("n3")]
    p = run(nodes, [pending("g", 8, nodes=3)])
    held = p.admit[0].placement.nodes
    assert sorted(n.node for n in held) == ["n1", "n2", "n3"]
    assert all(n.devices == tuple(range(8)) for n in held)
    busy = [running("r", "n3", (0,))]
    p = run(nodes, [pending("g", 8, nodes=3)], busy)
    assert admitted(p) == []


def test_gang_prefers_one_rack_and_keeps_other_racks_whole() -> None:
    nodes = [
        gpu_node("a1", rack="ra"),
        gpu_node("a2", rack="ra"),
        gpu_node("a3", rack="ra"),
        gpu_node("b1", rack="rb"),
        gpu_node("b2", rack="rb"),
    ]
    p = run(nodes, [pending("g", 8, nodes=2)])
    # Best fit: the smaller rack that holds the whole gang, not one node from each.
    assert sorted(n.node for n in p.admit[0].placement.nodes) == ["b1", "b2"]


def test_gang_that_needs_one_rack_waits_for_a_whole_rack() -> None:
    nodes = [
        gpu_node("a1", rack="ra"),
        gpu_node("a2", rack="ra"),
        gpu_node("b1", rack="rb"),
        gpu_node("b2", rack="rb"),
    ]
    busy = [running("r1", "a1", (0,)), running("r2", "b1", (0,))]
    job = pending("g", 8, nodes=2, same_rack=True)
    p = run(nodes, [job], busy)
    assert admitted(p) == []
    assert why(p, "g").startswith(
        "topology: needs 2 nodes x 8 a100 (1 cpus, 1 GiB per node) on one rack; "
        "largest free block on one rack is 1 nodes"
    )
    # Without the constraint it spans racks.
    loose = run(nodes, [replace(job, same_rack=False)], busy)
    assert sorted(n.node for n in loose.admit[0].placement.nodes) == ["a2", "b2"]


def test_any_of_types_picks_the_cheapest_that_fits_now() -> None:
    nodes = [gpu_node("h", kind="h100"), gpu_node("a", kind="a100")]
    p = run(nodes, [pending("j", 4, types=("h100", "a100"))])
    assert p.admit[0].placement.nodes[0].accelerator_type == "a100"
    full = [running("r", "a", tuple(range(8)))]
    p = run(nodes, [pending("j", 4, types=("h100", "a100"))], full)
    assert p.admit[0].placement.nodes[0].accelerator_type == "h100"


def test_any_accelerator_with_enough_memory() -> None:
    nodes = [gpu_node("a", kind="a100"), gpu_node("h", kind="h200"), gpu_node("l", kind="l40s")]
    job = PendingJob("j", Request(1, 1, GIB, 2, (), min_accelerator_memory_gb=100), 0.0, "p")
    p = run(nodes, [job])
    assert p.admit[0].placement.nodes[0].accelerator_type == "h200"
    # Any type at all: the cheapest (l40s, weight 0.6).
    p = run(nodes, [pending("k", 2, types=())])
    assert p.admit[0].placement.nodes[0].accelerator_type == "l40s"


def test_npus_are_scheduled_like_gpus() -> None:
    nodes = [gpu_node("npu1", 8, kind="rngd", pool="npu")]
    p = run(nodes, [pending("j", 8, types=("rngd",))])
    assert p.admit[0].placement.pool == "npu"


def test_drained_nodes_get_nothing_and_the_job_says_so() -> None:
    nodes = [replace(gpu_node("n1"), state=NodeState.DRAINED)]
    p = run(nodes, [pending("j", 1)])
    assert why(p, "j") == "no_nodes: no a100 node is up now"


def test_cpu_jobs_prefer_cpu_nodes() -> None:
    nodes = [gpu_node("g"), Node("c", "cpu", 32, 64 * GIB)]
    p = run(nodes, [pending("j", 0)])
    assert p.admit[0].placement.nodes[0].node == "c"
