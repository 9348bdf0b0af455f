"""`aidc simulate` for real (Typer's runner on the real app): files, table, JSON, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aidc.cli.main import app
from aidc.sim import report
from tests.unit.sim.fixtures import write

runner = CliRunner()


def _args(folder: Path, *extra: str) -> list[str]:
    trace, cluster = write(folder)
    return [
        "simulate",
        "--trace",
        str(trace),
        "--format",
        "philly-csv",
        "--cluster",
        str(cluster),
        *extra,
    ]


def test_two_policies_write_the_report_and_print_the_table(tmp_path: Path) -> None:
    policy = tmp_path / "greedy.toml"
    policy.write_text('preset = "sjf"\n[backfill]\nenabled = false\n')
    out = tmp_path / "out"
    r = runner.invoke(
        app,
        _args(
            tmp_path, "--policy", "fifo", "--policy", str(policy), "--seed", "3", "--out", str(out)
        ),
    )
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {report.RESULT, report.HTML, *report.plots.FIGURES}
    doc = json.loads((out / report.RESULT).read_text())
    assert [p["name"] for p in doc["policies"]] == ["fifo", "greedy"]
    assert doc["meta"]["seed"] == 3 and doc["meta"]["jobs_in_trace"] == 10
    for text in ("metric", "fifo", "greedy", "completion avg (s)", "Jain's index", "wrote"):
        assert text in r.stdout
    # The progress bar went to stderr, with the job count as its total.
    assert "10/10" in r.stderr


def test_json_prints_the_result_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, _args(tmp_path, "--json", "--no-progress", "--out", str(out)))
    assert r.exit_code == 0, r.output
    assert r.stdout == (out / report.RESULT).read_text()
    assert json.loads(r.stdout)["policies"][0]["name"] == "fairshare"


def test_what_if_options_show_in_the_result(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        _args(
            tmp_path,
            "--json",
            "--no-progress",
            "--add-nodes",
            "2xa100x4:extra",
            "--scale-load",
            "1.5",
            "--until",
            "10m",
            "--oracle",
        ),
    )
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout)["meta"]
    assert meta["cluster"]["accelerators"] == 16 and meta["add_nodes"] == ["2xa100x4:extra"]
    assert meta["scale_load"] == 1.5 and meta["until_s"] == 600 and meta["limits"]["oracle"]


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--policy", "nope"], "--policy"),
        (["--add-nodes", "3xh100"], "--add-nodes"),
        (["--add-nodes", "3xz100:cloud"], "--add-nodes"),
        (["--scale-load", "0"], "--scale-load"),
        (["--until", "soon"], "--until"),
        (["--limit-median", "0.5"], "--limit-median"),
        (["--points", "0"], "--points"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    tmp_path: Path, extra: list[str], option: str
) -> None:
    r = runner.invoke(app, _args(tmp_path, *extra))
    assert r.exit_code == 2, r.output
    assert option in r.stderr and "Traceback" not in r.output


def test_bad_format_cluster_trace_and_policy_file_exit_2(tmp_path: Path) -> None:
    args = _args(tmp_path)
    for i, value, option in (
        (4, "nope", "--format"),
        (6, "nope", "--cluster"),
        (2, str(tmp_path / "missing.csv"), "--trace"),
    ):
        changed = [*args[:i], value, *args[i + 1 :]]
        r = runner.invoke(app, changed)
        assert r.exit_code == 2 and option in r.stderr, (option, r.output)
    bad = tmp_path / "bad.toml"
    bad.write_text('preset = "fifo"\n[backfill]\nreservations = 0\n')
    r = runner.invoke(app, [*args, "--policy", str(bad)])
    assert r.exit_code == 2 and "--policy" in r.stderr and "backfill.reservations" in r.stderr
    (tmp_path / "trace.csv").write_text("timestamp,duration\n")
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "--trace" in r.stderr and "num_gpus" in r.stderr
