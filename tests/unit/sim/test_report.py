"""The experiment runner and the report: determinism, what-if options, HTML and PNGs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aidc.core.policy import preset
from aidc.sim import report
from aidc.sim.experiment import OptionError, Setup, parse_add_nodes, prepare, run
from aidc.sim.metrics import dumps
from aidc.sim.sources import load_cluster
from tests.unit.sim.fixtures import write

POLICIES = ("fifo", "fairshare", "sjf")


def _setup(folder: Path, **kw: object) -> Setup:
    trace, cluster = write(folder)
    return Setup(
        trace,
        "philly-csv",
        load_cluster(str(cluster)),
        [(n, preset(n)) for n in POLICIES],
        **({"seed": 7} | kw),  # type: ignore[arg-type]
    )


def test_two_separate_runs_serialise_to_the_same_bytes(tmp_path: Path) -> None:
    first = dumps(run(prepare(_setup(tmp_path))))
    second = dumps(run(prepare(_setup(tmp_path))))
    assert first == second
    # Written to disk twice: result.json byte for byte, and no clock inside.
    a, b = tmp_path / "a", tmp_path / "b"
    report.write(a, json.loads(first))
    report.write(b, run(prepare(_setup(tmp_path))))
    assert (a / report.RESULT).read_bytes() == (b / report.RESULT).read_bytes()
    doc = json.loads(first)
    assert doc["meta"]["seed"] == 7 and doc["meta"]["policies"] == list(POLICIES)
    assert not {"wall_s", "started_at", "timestamp"} & set(doc["meta"])
    assert dumps(run(prepare(_setup(tmp_path, seed=8)))) != first


def test_the_document_conserves_accelerator_time(tmp_path: Path) -> None:
    doc = run(prepare(_setup(tmp_path)))
    for p in doc["policies"]:
        s, tenants = p["summary"], p["tenants"]
        ran = (s["useful_accelerator_hours"] + s["lost_accelerator_hours"]) * 3600
        assert math.isclose(sum(t["received_accelerator_s"] for t in tenants), ran, rel_tol=1e-6)
        series = p["series"]
        area = sum(series["utilisation"]["a100"]) * 8 * series["bin_s"]
        assert math.isclose(area, ran, rel_tol=1e-6)
        assert len(series["t_s"]) == 500 and len(p["completion_quantiles_s"]) == 101
        assert p["summary"]["jain_index"] is not None
    assert doc["policies"][0]["summary"]["preemptions"] == 0  # fifo never preempts


def test_html_escapes_names_embeds_every_figure_and_fetches_nothing(tmp_path: Path) -> None:
    written = report.write(tmp_path / "out", run(prepare(_setup(tmp_path))))
    names = {p.name for p in written}
    assert names == {report.RESULT, report.HTML, *report.plots.FIGURES}
    for name in report.plots.FIGURES:
        assert (tmp_path / "out" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page = (tmp_path / "out" / report.HTML).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('src="data:image/png;base64,') == len(report.plots.FIGURES)
    assert "http://" not in page and "https://" not in page
    for policy in POLICIES:
        assert f"Per tenant: {policy}" in page


def test_scale_load_compresses_arrivals_towards_the_first(tmp_path: Path) -> None:
    plain = list(prepare(_setup(tmp_path)).trace())
    fast = list(prepare(_setup(tmp_path, scale_load=2.0)).trace())
    t0 = min(j.submitted_at for j in plain)
    assert [j.submitted_at - t0 for j in fast] == [(j.submitted_at - t0) / 2 for j in plain]
    assert [j.duration_s for j in fast] == [j.duration_s for j in plain]
    doc = run(prepare(_setup(tmp_path, scale_load=2.0)))
    assert doc["meta"]["scale_load"] == 2.0


def test_until_stops_early_and_add_nodes_adds_capacity(tmp_path: Path) -> None:
    doc = run(prepare(_setup(tmp_path, until_s=300.0)))
    assert all(p["summary"]["jobs_unfinished"] > 0 for p in doc["policies"])
    bigger = run(prepare(_setup(tmp_path, add_nodes=("2xa100:extra",))))
    assert bigger["meta"]["cluster"]["accelerators"] == 16
    base = run(prepare(_setup(tmp_path)))
    for a, b in zip(base["policies"], bigger["policies"], strict=True):
        assert b["summary"]["queued_s"]["avg"] <= a["summary"]["queued_s"]["avg"]


def test_add_nodes_forms(tmp_path: Path) -> None:
    cluster = load_cluster(str(write(tmp_path)[1]))
    nodes = parse_add_nodes("3xh100x8:cloud", cluster, 0)
    assert len(nodes) == 3 and {n.accelerator_type for n in nodes} == {"h100"}
    assert {len(n.devices) for n in nodes} == {8} and {n.pool for n in nodes} == {"cloud"}
    assert nodes[0].cpus == 8 * cluster.shape.cpus_per_accelerator
    assert {len(n.devices) for n in parse_add_nodes("2xa100:gpu", cluster, 1)} == {4}
    for bad in ("3h100:cloud", "3xh100", "0xh100:cloud", "3xz100:cloud", "3xh100x99:cloud"):
        with pytest.raises(OptionError, match="--add-nodes"):
            parse_add_nodes(bad, cluster, 0)
    # Nodes of a type the trace's jobs do not ask for: a note says they stay idle.
    prepared = prepare(_setup(tmp_path, add_nodes=("2xh100:cloud",)))
    assert any("stay idle" in n for n in prepared.notes)


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"format": "nope"}, "--format"),
        ({"policies": []}, "--policy"),
        ({"policies": [("a", preset("fifo")), ("a", preset("sjf"))]}, "--policy"),
        ({"median_factor": 0.5}, "--limit-median"),
        ({"sigma": -1.0}, "--limit-sigma"),
        ({"scale_load": 0.0}, "--scale-load"),
        ({"until_s": -5.0}, "--until"),
        ({"points": 0}, "--points"),
        ({"trace": Path("/nonexistent/trace.csv")}, "--trace"),
    ],
)
def test_bad_options_name_the_option(tmp_path: Path, change: dict, option: str) -> None:
    s = _setup(tmp_path)
    fields = {f: getattr(s, f) for f in s.__dataclass_fields__} | change
    with pytest.raises(OptionError) as e:
        prepare(Setup(**fields))
    assert e.value.option == option and str(e.value).startswith(f"{option}: ")


def test_a_bad_trace_row_is_an_option_error_naming_the_line(tmp_path: Path) -> None:
    s = _setup(tmp_path)
    s.trace.write_text(s.trace.read_text().replace(",600,", ",soon,"))
    with pytest.raises(OptionError, match=r"--trace: .*:2.*duration"):
        prepare(s)
