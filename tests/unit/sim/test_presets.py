"""Cluster presets: the built-in files, a user's own file, and mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidc.core import accelerators
from aidc.core.policy import preset
from aidc.sim import simulate
from aidc.sim.driver import SimJob
from aidc.sim.limits import LimitModel
from aidc.sim.presets import PRESETS, PresetError, load_cluster
from aidc.sim.traces import tiresias

TIRESIAS = Path(__file__).resolve().parents[3].parent / "shared" / "traces" / "tiresias"
PHILLY_VCS = {
    "6214e9": 64,
    "b436b2": 64,
    "ee9e8c": 64,
    "7f04ca": 32,
    "6c71a0": 32,
    "0e4a51": 32,
    "11cb48": 16,
    "e13805": 16,
    "2869ce": 16,
    "ed69ec": 8,
    "103959": 8,
}


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_with_known_types_and_says_what_it_assumes(name: str) -> None:
    c = load_cluster(name)
    assert c.name == name and c.nodes and len(c.description) > 80
    assert len({n.name for n in c.nodes}) == len(c.nodes)
    assert all(n.accelerator_type in accelerators.CATALOG for n in c.nodes)
    # The shape's biggest request fits a node of the cluster.
    biggest = c.shape.request(c.shape.accelerators)
    assert any(
        n.accelerator_count >= biggest.accelerators
        and n.cpus >= biggest.cpus
        and n.memory_mib >= biggest.memory_mib
        and biggest.accepts(n.accelerator_type)
        for n in c.nodes
    )


def test_philly_has_its_virtual_clusters_as_quotas() -> None:
    c = load_cluster("philly")
    assert (len(c.nodes), c.capacity) == (352, {"p100": 2816})
    assert {q.name: q.limits["p100"].nominal for q in c.quotas.projects} == {
        vc: n * 8.0 for vc, n in PHILLY_VCS.items()
    }
    # A virtual cluster with no quota borrows the idle ones' GPUs: 64 of them at once.
    jobs = [SimJob("big", 0, 100, c.shape.request(64), "c4d4c4")]
    result = simulate(c.nodes, jobs, preset("fairshare"), quotas=c.quotas)
    assert [o.job_id for o in result.jobs] == ["big"] and result.jobs[0].queued_s == 0


def test_alibaba_openb_is_the_trace_node_list() -> None:
    c = load_cluster("alibaba-openb")
    assert len(c.nodes) == 1213 and sum(c.capacity.values()) == 6212
    assert set(c.capacity) == {"a10", "g2", "g3", "p100", "t4", "v100m16", "v100m32"}
    assert c.capacity["g2"] == 4392 and c.shape.accelerator_type == ""


def test_gwangju_has_its_two_pools_at_the_stated_peak() -> None:
    c = load_cluster("gwangju")
    pools = {n.pool for n in c.nodes}
    assert pools == {"hpc", "cloud"}
    fp64 = accelerators.CATALOG["h100"].peak_tflops_fp64 / 1000
    hpc = sum(n.accelerator_count for n in c.nodes if n.pool == "hpc")
    cloud = sum(n.accelerator_count for n in c.nodes if n.pool == "cloud")
    assert (hpc, cloud) == (296, 1024)
    assert hpc * fp64 == pytest.approx(20, abs=0.5)
    assert cloud * fp64 == pytest.approx(68.5, abs=0.5)


def test_the_tiresias_trace_runs_on_its_preset() -> None:
    trace = TIRESIAS / "60_job.csv"
    if not trace.exists():
        pytest.skip(f"{trace} is not here: the shared traces lie beside the project (../shared)")
    spec = (TIRESIAS / "cluster_spec.csv").read_text().splitlines()[1].split(",")
    c = load_cluster("tiresias")
    assert (len(c.nodes), c.shape.accelerators) == (int(spec[1]), int(spec[2]))
    assert {n.cpus for n in c.nodes} == {int(spec[3])}
    jobs = list(tiresias(trace, c.shape, LimitModel(oracle=True)))
    result = simulate(c.nodes, jobs, preset("fifo"), quotas=c.quotas)
    assert len(result.jobs) == 60 and result.skipped == [] and result.unfinished == []


GOOD = """
name = "mine"
description = "two nodes of my own"
[shape]
accelerators = 4
accelerator_type = "h100"
memory_per_accelerator = "64G"
[[pools]]
name = "p"
[[nodes]]
name = "n"
pool = "p"
cpus = 32
memory = "512G"
accelerator = "h100"
count = 4
copies = 2
[[quotas]]
project = "team"
cohort = "org"
nominal = { h100 = 4 }
"""


def test_a_users_own_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    c = load_cluster(str(path))
    assert [n.name for n in c.nodes] == ["n-001", "n-002"]
    assert (c.shape.accelerators, c.shape.memory_mib_per_accelerator) == (4, 64 * 1024)
    assert [(q.name, q.parent) for q in c.quotas.projects] == [("team", "org")]
    assert [q.name for q in c.quotas.cohorts] == ["org"]


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "nominal = { h100 = 4 }",
            "nominal = { a100 = 4 }",
            r"quotas\[0\]\.nominal\.a100: no node",
        ),
        ("nominal = { h100 = 4 }", "nominal = { h100 = -1 }", r"quotas\[0\]\.nominal\.h100: must"),
        ('project = "team"', "", r"quotas\[0\]\.project: must name"),
        ('cohort = "org"', 'size = "org"', r"quotas\[0\]\.size: not a field"),
        ("accelerators = 4", "accelerators = 0", r"shape\.accelerators: must be a whole number"),
        ('accelerator_type = "h100"', 'accelerator_type = "z9"', r"shape\.accelerator_type: 'z9'"),
        ('memory_per_accelerator = "64G"', 'memory_per_accelerator = "lots"', r"shape\.memory"),
        ("copies = 2", "copies = 0", r"nodes\[0\]\.copies: must be a whole number >= 1"),
        ('accelerator = "h100"', 'accelerator = "v100"', r"nodes\[0\]\.accelerator: unknown"),
        ('description = "two nodes of my own"', "", "description: must be a string"),
        ("[[quotas]]", "[quotas]", "quotas: must be an array"),
    ],
)
def test_a_bad_file_names_the_entry_and_field(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    path = tmp_path / "bad.toml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new))
    with pytest.raises(PresetError, match=says) as info:
        load_cluster(str(path))
    assert str(info.value).startswith(f"{path}: ")


def test_an_unknown_name_lists_the_presets() -> None:
    with pytest.raises(PresetError, match=r"neither a preset .*philly.*nor a file"):
        load_cluster("nowhere")


def test_the_names_the_cli_lists_are_the_formats_and_presets_there_are() -> None:
    from aidc.sim.names import CLUSTER_PRESETS, FORMAT_NAMES
    from aidc.sim.presets import PRESETS
    from aidc.sim.traces import FORMATS

    assert tuple(FORMATS) == FORMAT_NAMES
    assert PRESETS == CLUSTER_PRESETS
