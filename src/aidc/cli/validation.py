"""`aidc validate` (run a model on accelerator types) and `aidc validation
list|show|compare|report|verify|share|shares|unshare`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.cli.output import errors, fail, out, when
from aidc.client import Client
from aidc.schemas_validation import COLUMNS, CompareView, RunView, ValidationView, cells

app = typer.Typer(help="Validation runs: list, show, compare, reports, verify, share.")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
IdArg = Annotated[str, typer.Argument(help="The validation's id.")]


def register(root: typer.Typer) -> None:
    root.command("validate")(validate)
    root.add_typer(app, name="validation")


def validate(
    project: Annotated[str, typer.Option("--project", "-p", help="A project of yours.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="The ONNX model file.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="NAME@VERSION.")],
    accelerators: Annotated[
        str, typer.Option("--accelerators", "-a", help="Types, comma-separated: a100,h100,cpu.")
    ],
    metric: Annotated[str, typer.Option("--metric", help="top1 or top5.")] = "top1",
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", "-s", help="single-stream, offline (repeat; default both)."),
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="A pass/fail target (repeat): 'p99<=20ms'."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label.")] = None,
    model_name: Annotated[
        str | None, typer.Option("--model-name", help="The model's name across versions.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the runs; exit 1 if one fails or misses.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the validation harness on each accelerator type, one job per type:
    `aidc validate -p P --model model.onnx --dataset eval-set@2 --accelerators a100,cpu`."""
    if not model.is_file():
        fail(f"--model: no file {model}")
    types = [t.strip() for t in accelerators.split(",") if t.strip()]
    if not types:
        fail("--accelerators: name at least one type, e.g. cpu or a100,cpu")
    with errors(), Client.from_config() as c:
        v = c.validate(
            model,
            project=project,
            dataset=dataset,
            accelerators=types,
            metric=metric,
            scenarios=scenario or None,
            targets=target or [],
            name=name,
            model_name=model_name,
        )
        if not as_json:
            out.print(f"validation {v.id}")
            _runs_table(v.runs)
        if wait:
            v = _follow(c, v, quiet=as_json)
    if as_json:
        out.print_json(v.model_dump_json())
    # --wait as a gate (in CI): 1 when a run failed or missed a target.
    if wait and any(
        r.state != "succeeded" or not all(x.passed for x in r.verdicts) for r in v.runs
    ):
        raise typer.Exit(1)


def _follow(c: Client, v: ValidationView, quiet: bool) -> ValidationView:
    seen = {r.accelerator: r.state for r in v.runs}
    while v.state != "done":
        time.sleep(0.5)
        v = c.validation(v.id)
        for r in v.runs:
            if not quiet and seen.get(r.accelerator) != r.state:
                extra = f": {r.reason}" if r.reason else ""
                out.print(f"{r.accelerator}: {r.state} (job {r.job_id}){escape(extra)}")
            seen[r.accelerator] = r.state
    if not quiet:
        _runs_table(v.runs)
    return v


@app.command("list")
def list_(
    project: Annotated[str | None, typer.Option("--project", "-p")] = None,
    model: Annotated[str | None, typer.Option("--model", help="A model name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validations you may read, newest first."""
    with errors(), Client.from_config() as c:
        found = c.validations(project=project, model=model)
    if as_json:
        out.print_json(json.dumps([v.model_dump(mode="json") for v in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "PROJECT", "MODEL", "SHA256", "DATASET", "STATE", "RUNS", "CREATED"):
        table.add_column(col)
    for v in found:
        runs = ", ".join(f"{r.accelerator}:{r.state}" for r in v.runs)
        table.add_row(
            v.id, v.name, v.project, v.model_name, v.model_sha256[:12], v.dataset, v.state,
            runs, when(v.created_at),
        )  # fmt: skip
    out.print(table)


@app.command()
def show(validation_id: IdArg, as_json: JsonOpt = False) -> None:
    """A validation: its model, dataset, targets, and each run with its verdicts."""
    with errors(), Client.from_config() as c:
        v = c.validation(validation_id)
    if as_json:
        out.print_json(v.model_dump_json())
        return
    out.print(f"validation {v.id} ({v.name}), {v.state}")
    out.print(f"model {v.model_name} sha256 {v.model_sha256} ({v.model_bytes} bytes)")
    out.print(f"dataset {v.dataset}, metric {v.metric}, scenarios {', '.join(v.scenarios)}")
    out.print(f"targets: {escape(', '.join(v.targets) or 'none')}")
    _runs_table(v.runs)


def _runs_table(runs: list[RunView]) -> None:
    table = Table(box=None, header_style="bold")
    for col in ("ACCELERATOR", "JOB", "JOB STATE", "RUN", "RESULT SHA256", "INTEGRITY", "TARGETS"):
        table.add_column(col)
    for r in runs:
        verdicts = ", ".join(f"{x.target} {'pass' if x.passed else 'FAIL'}" for x in r.verdicts)
        table.add_row(
            r.accelerator, r.job_id, r.job_state, r.state + (f": {r.reason}" if r.reason else ""),
            (r.result_sha256 or "-")[:16], r.integrity, verdicts,
        )  # fmt: skip
    out.print(table)


@app.command()
def compare(validation_id: IdArg, as_json: JsonOpt = False) -> None:
    """Its runs across accelerators, beside other versions of the same model."""
    with errors(), Client.from_config() as c:
        cv = c.compare_validation(validation_id)
    if as_json:
        out.print_json(cv.model_dump_json())
        return
    _compare_table(cv)


def _compare_table(cv: CompareView) -> None:
    table = Table(box=None, header_style="bold", title=f"{cv.model_name}, {cv.metric}")
    for col in COLUMNS:
        table.add_column(col.upper())
    for t in cv.targets:
        table.add_column(escape(t))
    for r in cv.rows:
        table.add_row(*cells(r), *("pass" if x.passed else "FAIL" for x in r.verdicts))
    out.print(table)


@app.command()
def report(
    validation_id: IdArg,
    format_: Annotated[str, typer.Option("--format", "-f", help="html or pdf.")] = "html",
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")] = Path(
        "report.html"
    ),
) -> None:
    """Write the report: `aidc validation report ID --format pdf -o report.pdf`."""
    if format_ not in ("html", "pdf"):
        fail(f"--format: {format_!r} is not html or pdf")
    with errors(), Client.from_config() as c:
        body = c.validation_report(validation_id, format_)
    output.write_bytes(body)
    out.print(f"wrote {output} ({len(body)} bytes)")


@app.command()
def verify(validation_id: IdArg, as_json: JsonOpt = False) -> None:
    """Re-hash every stored result; exit 1 when one was tampered with."""
    with errors(), Client.from_config() as c:
        v = c.verify_validation(validation_id)
    if as_json:
        out.print_json(v.model_dump_json())
    else:
        for r in v.runs:
            out.print(f"{r.accelerator}: {r.integrity} {r.result_sha256 or '-'}")
        out.print("all results verify" if v.ok else "TAMPERED: a stored result changed")
    if not v.ok:
        raise typer.Exit(1)


@app.command()
def share(
    validation_id: IdArg,
    organisation: Annotated[str | None, typer.Option("--org", help="An organisation.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="A user.")] = None,
) -> None:
    """Let an organisation (a chip vendor, a funder) or a user read the report."""
    if (organisation is None) == (user is None):
        fail("name either --org or --user")
    with errors(), Client.from_config() as c:
        s = c.share_validation(validation_id, organisation=organisation, user=user)
    out.print(f"share {s.id}: {s.organisation or s.user} may read {s.link}")


@app.command()
def shares(validation_id: IdArg) -> None:
    """The validation's shares, revoked ones too."""
    with errors(), Client.from_config() as c:
        found = c.validation_shares(validation_id)
    table = Table(box=None, header_style="bold")
    for col in ("SHARE", "WITH", "BY", "CREATED", "REVOKED"):
        table.add_column(col)
    for s in found:
        revoked = when(s.revoked_at) if s.revoked_at else ""
        table.add_row(
            s.id, s.organisation or s.user or "", s.created_by, when(s.created_at), revoked
        )
    out.print(table)


@app.command()
def unshare(validation_id: IdArg, share_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a share."""
    with errors(), Client.from_config() as c:
        s = c.revoke_validation_share(validation_id, share_id)
    out.print(f"share {s.id} revoked")


@app.command()
def result(
    validation_id: IdArg,
    accelerator: Annotated[str, typer.Argument(help="The run's accelerator type.")],
) -> None:
    """A run's result as stored (canonical JSON, every latency recorded); exit 1 if tampered."""
    with errors(), Client.from_config() as c:
        text, integrity = c.validation_result(validation_id, accelerator)
    out.print_json(text)
    if integrity != "verified":
        fail(f"the stored result is {integrity}", code=1)
