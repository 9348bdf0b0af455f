"""`aidc simulate`: replay a trace under one or more policies and write the report.

Runs locally (no server needed). The trace is read once first to count its jobs, so the
progress bar has a total and an ETA; then once per policy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from aidc.cli.output import err, fail, out
from aidc.core.policy import PRESETS, Policy, preset
from aidc.core.policy_text import PolicyError, loads
from aidc.core.units import format_duration, parse_duration
from aidc.sim.names import CLUSTER_PRESETS as CLUSTERS
from aidc.sim.names import FORMAT_NAMES as FORMATS

if TYPE_CHECKING:
    from aidc.sim.sources import SimCluster

# The simulator itself is imported when the command runs: every other command starts
# without it.


def policy_of(spec: str) -> tuple[str, Policy]:
    """A preset by name, or a policy file (docs/policy.md) by path: (its name, the policy)."""
    if spec in PRESETS:
        return spec, preset(spec)
    path = Path(spec)
    if not path.is_file():
        fail(f"--policy: {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a policy file")
    try:
        return path.stem, loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        fail(f"--policy: cannot read {spec}: {getattr(e, 'strerror', None) or e}")
    except PolicyError as e:
        fail(f"--policy {spec}: {e}")


def cluster_of(spec: str) -> SimCluster:
    from aidc.sim.sources import load_cluster

    try:
        return load_cluster(spec)
    except (ValueError, KeyError, OSError) as e:
        fail(f"--cluster: {e.args[0] if e.args else e}")


def table(doc: dict[str, Any]) -> Table:
    from aidc.sim import report

    header, rows = report.comparison(doc)
    t = Table(box=None, header_style="bold")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    return t


def simulate(
    trace: Annotated[Path, typer.Option("--trace", help="The trace file.")],
    format_: Annotated[str, typer.Option("--format", help=f"Trace format: {', '.join(FORMATS)}.")],
    cluster: Annotated[
        str,
        typer.Option(help=f"A cluster preset ({', '.join(CLUSTERS)}) or a cluster TOML file."),
    ],
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help=f"A preset ({', '.join(PRESETS)}) or a policy TOML file; repeat to compare.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the time-limit draws.")] = 0,
    oracle: Annotated[
        bool, typer.Option(help="Time limits are the true durations (SJF baselines).")
    ] = False,
    limit_median: Annotated[
        float, typer.Option(help="Median of the limit/duration factor users overestimate by.")
    ] = 3.0,
    limit_sigma: Annotated[float, typer.Option(help="Sigma of log(factor).")] = 1.0,
    add_nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--add-nodes",
            help="What-if: COUNTxTYPE:POOL or COUNTxTYPExGPUS:POOL more nodes (64xh100:cloud).",
        ),
    ] = None,
    scale_load: Annotated[
        float, typer.Option(help="What-if: arrivals this many times as dense (1.5).")
    ] = 1.0,
    until: Annotated[
        str | None, typer.Option(help="Stop this long after the first submission (48h, 7d).")
    ] = None,
    points: Annotated[int, typer.Option(help="Points of the time series in the report.")] = 500,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write result.json, report.html and PNGs into this folder."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result JSON.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar (on stderr).")] = True,
) -> None:
    """Replay a trace on a simulated cluster: `aidc simulate --trace t.csv --format tiresias
    --cluster tiresias --policy fifo --policy sjf --out report/`."""
    from aidc.sim import report
    from aidc.sim.experiment import OptionError, Setup, prepare, run
    from aidc.sim.metrics import dumps

    until_s = None
    if until is not None:
        try:
            until_s = float(parse_duration(until))
        except ValueError as e:
            fail(f"--until: {e}")
    setup = Setup(
        trace=trace,
        format=format_,
        cluster=cluster_of(cluster),
        policies=[policy_of(p) for p in policy or ["fairshare"]],
        seed=seed,
        oracle=oracle,
        median_factor=limit_median,
        sigma=limit_sigma,
        add_nodes=tuple(add_nodes or ()),
        scale_load=scale_load,
        until_s=until_s,
        points=points,
    )
    began = time.monotonic()
    try:
        prepared = prepare(setup)
    except OptionError as e:
        fail(str(e))
    for note in prepared.notes:
        err.print(f"[yellow]note:[/] {note}", markup=True)
    bar = Progress(
        TextColumn("{task.description:>12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("jobs  simulated {task.fields[simulated]}"),
        TimeRemainingColumn(),
        console=err,
        disable=not progress,
        transient=False,
    )
    tasks: dict[str, TaskID] = {
        name: bar.add_task(name, total=prepared.jobs, simulated="0s", start=False)
        for name, _ in setup.policies
    }

    def tick(name: str, simulated_s: float, done: int) -> None:
        task = tasks[name]
        bar.start_task(task)
        bar.update(task, completed=done, simulated=format_duration(int(max(0, simulated_s))))

    with bar:
        doc = run(prepared, tick)
    wall = time.monotonic() - began
    if out_dir is not None:
        try:
            written = report.write(out_dir, doc)
        except OSError as e:
            fail(f"--out: cannot write into {out_dir}: {e.strerror or e}")
    if as_json:
        out.print(dumps(doc), end="", markup=False, highlight=False, soft_wrap=True)
        return
    out.print(table(doc))
    if out_dir is not None:
        out.print(f"wrote {', '.join(p.name for p in written)} into {out_dir}", markup=False)
    # Wall time goes to the terminal only: the result file stays the same for the same input.
    out.print(f"{prepared.jobs} jobs x {len(setup.policies)} policies in {wall:.1f} s")
