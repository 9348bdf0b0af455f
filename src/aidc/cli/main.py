"""`aidc`: submit and watch jobs, see nodes, run the server."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import tomli_w
import typer
from rich.table import Table

from aidc.cli import (
    course,
    dataset,
    dev,
    environment,
    ledger,
    notebook,
    policy,
    report,
    security,
    simulate,
    users,
    validation,
)
from aidc.cli.allocations import register as register_allocations
from aidc.cli.output import errors, fail, out, state, when, write_bytes
from aidc.cli.quota import cohort_app, project_app, quota_app
from aidc.cli.server import server
from aidc.client import Client, config_path
from aidc.core.job_states import JobState
from aidc.core.units import format_duration, parse_duration, parse_memory_mib
from aidc.schemas import JobView

app = typer.Typer(
    name="aidc",
    help="Use a shared AI data center: submit jobs, follow them, see capacity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(help="Run the aidc server (API and controller).")(server)
app.command(name="simulate", help="Replay a trace on a simulated cluster; write a report.")(
    simulate.simulate
)
app.add_typer(policy.app, name="policy")
app.add_typer(quota_app, name="quota")
app.add_typer(cohort_app, name="cohort")
app.add_typer(project_app, name="project")
app.add_typer(dev.app, name="dev")
app.add_typer(course.app, name="course")
app.add_typer(report.app, name="report")
app.add_typer(users.app, name="user")
register_allocations(app)  # org, program, alloc, join
ledger.register(app)
app.add_typer(dataset.app, name="dataset")
app.command("audit")(dataset.audit)
app.add_typer(notebook.app, name="notebook")
app.add_typer(environment.app, name="env")
security.register(app)
validation.register(app)  # validate, validation

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _client() -> Client:
    return Client.from_config()


def _parse(value: str, parser: object, option: str) -> int:
    try:
        return parser(value)  # type: ignore[operator,no-any-return]
    except ValueError as e:
        fail(f"{option}: {e}")


@app.command()
def login(
    url: Annotated[str, typer.Option(help="Server URL.")] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(help="API token (asked for if not given).")] = None,
) -> None:
    """Check a token against the server and save URL and token for later commands."""
    token = token or typer.prompt("API token", hide_input=True)
    with errors(), Client(url, token) as c:
        me = c.whoami(login=True)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        tomli_w.dump({"url": url, "token": token}, f)
    out.print(f"Logged in to {url} as [bold]{me.username}[/] ({me.role}, {me.organisation}).")
    out.print(f"Saved to {path}.")


@app.command()
def whoami(as_json: JsonOpt = False) -> None:
    """Who the saved token belongs to, and the projects you can submit to."""
    with errors(), _client() as c:
        me = c.whoami()
    if as_json:
        out.print_json(me.model_dump_json())
        return
    out.print(f"{me.username} ({me.role}) of {me.organisation} [{me.organisation_kind}]")
    for p in me.projects:
        out.print(f"  project {p.name}")


@app.command(context_settings={"allow_interspersed_args": False})
def submit(
    command: Annotated[
        list[str] | None, typer.Argument(help="Program and arguments after --.")
    ] = None,
    project: Annotated[str, typer.Option("--project", "-p", help="Project to run under.")] = "",
    gpus: Annotated[int, typer.Option("--gpus", "-g", help="Accelerators per node.")] = 0,
    gpu_type: Annotated[
        str | None,
        typer.Option(help="h100, a100, rngd, ...; a list (h100,a100) lets the scheduler pick."),
    ] = None,
    gpu_memory: Annotated[
        float | None, typer.Option(help="Any accelerator with at least this many GB.")
    ] = None,
    nodes: Annotated[int, typer.Option(help="Number of nodes.")] = 1,
    cpus: Annotated[int, typer.Option(help="CPU cores per node.")] = 1,
    mem: Annotated[str, typer.Option(help="Memory per node, e.g. 16G.")] = "1G",
    time: Annotated[
        str | None,
        typer.Option("--time", "-t", help="Time limit: 30m, 2h, 1d (default: the class's)."),
    ] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="NAME=VALUE.")] = None,
    workdir: Annotated[str | None, typer.Option(help="Working directory ('.' = here).")] = None,
    script: Annotated[Path | None, typer.Option(help="Run this bash script instead.")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the job.")] = None,
    priority_class: Annotated[
        str,
        typer.Option(
            "--class",
            "--priority-class",
            help="interactive (within quota, never preempted), normal, or opportunistic "
            "(idle capacity beyond quota, preempted first).",
        ),
    ] = "normal",
    nice: Annotated[int, typer.Option(help="Lower this job's priority (0-10000).")] = 0,
    spread: Annotated[
        bool | None, typer.Option("--spread/--pack", help="Emptiest nodes, or fill busy ones.")
    ] = None,
    same_rack: Annotated[
        bool, typer.Option(help="Multi-node: all nodes on one rack/switch.")
    ] = False,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Read a dataset (read-only): NAME, NAME@VERSION or NAME@VERSION:PATH.",
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the end; exit with the job's code.")] = False,
    environment: Annotated[
        str | None, typer.Option("--environment", help="A named environment (aidc env list).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue a job: `aidc submit -p PROJECT --gpus 1 --gpu-type a100 -t 1h -- python train.py`."""
    if not project:
        fail("--project: which project should the job run under? (see `aidc whoami`)")
    spec: dict[str, object] = {
        "project": project,
        "name": name,
        "accelerators": gpus,
        "accelerator_type": gpu_type,
        "nodes": nodes,
        "cpus": cpus,
        "priority_class": priority_class,
        "memory_mib": _parse(mem, parse_memory_mib, "--mem"),
        "time_limit_s": _parse(time, parse_duration, "--time") if time else None,
        "nice": nice,
        "same_rack": same_rack,
        "datasets": dataset or [],
    }
    if environment is not None:
        spec["environment"] = environment
    if gpu_memory is not None:
        spec["accelerator_memory_gb"] = gpu_memory
    if spread is not None:
        spec["placement"] = "spread" if spread else "pack"
    if script is not None:
        if command:
            fail("give either --script or a command after --, not both")
        try:
            spec["script"] = script.read_text()
        except OSError as e:
            fail(f"--script: cannot read {script}: {e.strerror}")
    elif not command:
        fail("nothing to run: put the command after --, e.g. `-- python train.py`")
    else:
        spec["command"] = command
    env_map = {}
    for item in env or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--env: {item!r} is not NAME=VALUE")
        env_map[key] = value
    spec["env"] = env_map
    if workdir is not None:
        spec["workdir"] = str(Path(workdir).resolve())
    with errors(), _client() as c:
        job = c.submit(spec)
        if wait:
            job = c.wait(job.id)
    if as_json:
        out.print_json(job.model_dump_json())
    elif wait:
        out.print(f"{job.id} {state(job.state)} {job.state_reason}")
    else:
        out.print(job.id)
    if wait:
        raise typer.Exit(0 if job.state == "SUCCEEDED" else (job.exit_code or 1))


jobs_app = typer.Typer(no_args_is_help=False, help="Your jobs; `aidc jobs export` writes history.")
app.add_typer(jobs_app, name="jobs")


@jobs_app.callback(invoke_without_command=True)
def jobs(
    ctx: typer.Context,
    state_: Annotated[str | None, typer.Option("--state", help="QUEUED, RUNNING, ...")] = None,
    project: Annotated[str | None, typer.Option("--project", "-p")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u")] = None,
    limit: int = 50,
    why: Annotated[
        bool, typer.Option("--why", help="Waiting jobs only, with the scheduler's reasons.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Your jobs, newest first, with queue position or where they run."""
    if ctx.invoked_subcommand is not None:
        return
    if why:
        state_ = "QUEUED"
    with errors(), _client() as c:
        found = c.jobs(
            state=state_.upper() if state_ else None, project=project, user=user, limit=limit
        )
    if as_json:
        out.print_json(json.dumps([j.model_dump(mode="json") for j in found]))
        return
    if why:
        _print_why(found)
        return
    table = Table(box=None, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=16)
    for col in ("NAME", "PROJECT", "USER", "STATE", "GPUS", "SUBMITTED", "WHERE / WHY"):
        table.add_column(col)
    for j in found:
        spec = j.spec
        gpus = f"{spec['accelerators']}x{_types(spec)}" if spec["accelerators"] else "-"
        where = j.state_reason
        if j.queue_position is not None:
            reason = j.wait.message if j.wait else j.state_reason
            where = f"#{j.queue_position} in queue: {reason}"
        table.add_row(
            j.id, j.name or "", j.project, j.user, state(j.state), gpus, when(j.submitted_at), where
        )
    out.print(table)


@jobs_app.command("export")
def export_jobs(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    project: Annotated[str | None, typer.Option("--project", "-p")] = None,
) -> None:
    """Write the job history you may see as CSV, to replay with `--format aidc-history`."""
    with errors(), _client() as c, out_file.open("w", newline="") as f:
        for chunk in c.export_jobs(project):
            f.write(chunk)
    total = replayable = 0
    with out_file.open(newline="") as f:
        for row in csv.DictReader(f):
            total += 1
            replayable += JobState(row["state"]).is_terminal and bool(row["started_at"])
    out.print(
        f"wrote {total} jobs to {out_file}: {replayable} replayable "
        f"(finished after a start), {total - replayable} not (queued, running or never started)"
    )


def _types(spec: dict[str, Any]) -> str:
    t = spec.get("accelerator_type")
    if not t:
        return "any"
    return t if isinstance(t, str) else "|".join(t)


def _print_why(found: list[JobView]) -> None:
    table = Table(box=None, header_style="bold")
    table.add_column("ID", no_wrap=True, min_width=16)
    for col in ("PROJECT", "POS", "IN PROJECT", "PRIORITY", "EST. START", "REASON", "WHY"):
        table.add_column(col)
    for j in sorted(found, key=lambda j: j.queue_position or 0):
        w = j.wait
        table.add_row(
            j.id,
            j.project,
            str(j.queue_position or ""),
            str(w.project_position) if w else "",
            f"{w.priority:.2f}" if w else "",
            when(w.estimated_start) if w and w.estimated_start else "",
            w.reason if w else "new",
            w.message if w else "not yet seen by the scheduler",
        )
    out.print(table)


@app.command()
def job(job_id: str, as_json: JsonOpt = False) -> None:
    """One job in full, with its history."""
    with errors(), _client() as c:
        j = c.job(job_id)
        history = c.events(job_id)
    if as_json:
        data = j.model_dump(mode="json") | {"events": [e.model_dump(mode="json") for e in history]}
        out.print_json(json.dumps(data))
        return
    spec = j.spec
    stopping = " (stopping)" if j.stopping else ""
    out.print(f"[bold]{j.id}[/] {j.name or ''}  {state(j.state)}{stopping}  {j.state_reason}")
    out.print(f"project {j.project}  user {j.user}  priority {spec['priority_class']}")
    run = spec["command"] if spec.get("command") else ["bash", "<script>"]
    out.print(f"command {' '.join(run)}")
    if spec.get("environment"):
        out.print(f"environment {spec['environment']}")
    out.print(
        f"asks {spec['nodes']} node(s) x {spec['accelerators']} "
        f"{_types(spec) if spec['accelerators'] else 'accelerators'}, {spec['cpus']} cpu, "
        f"{spec['memory_mib']} MiB, limit {format_duration(int(j.time_limit_s))}"
    )
    if j.wait:
        w = j.wait
        start = f", estimated start {when(w.estimated_start)}" if w.estimated_start else ""
        out.print(
            f"waiting ({w.reason}): {w.message}\n"
            f"position {w.position} in the queue, {w.project_position} in project "
            f"{j.project}, priority {w.priority:.2f}{start}"
        )
    if j.placement:
        for n in j.placement["nodes"]:
            out.print(f"placed on {n['node']} devices {n['devices']} ({n['accelerator_type']})")
    if j.attempt:
        runs = f"attempt {j.attempt}"
        if j.preemptions:
            runs += (
                f", preempted {j.preemptions} time(s), "
                f"{j.lost_accelerator_seconds:,.0f} accelerator-seconds lost"
            )
        out.print(runs)
    if j.exit_code is not None:
        out.print(f"exit code {j.exit_code}")
    table = Table(box=None, header_style="bold", title="history", title_justify="left")
    for col in ("TIME", "FROM", "TO", "BY", "REASON"):
        table.add_column(col)
    for e in history:
        table.add_row(when(e.at), e.from_state or "", state(e.to_state), e.actor or "", e.reason)
    out.print(table)


@app.command()
def logs(
    job_id: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Stream until the job ends.")
    ] = False,
) -> None:
    """The job's output (stdout and stderr together)."""
    with errors(), _client() as c:
        if follow:
            write_bytes(c.follow_logs(job_id))
        else:
            sys.stdout.write(c.logs(job_id))


# Results of a bulk cancel that are the user's mistake (exit code 2).
BAD = ("not found", "forbidden")


@app.command()
def cancel(job_ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Cancel jobs: at once if queued; SIGTERM then SIGKILL after the grace if running.
    Several ids go in one request (and one transaction)."""
    with errors(), _client() as c:
        if len(job_ids) == 1:
            j = c.cancel(job_ids[0])
            stopping = (j.stopping or j.cancel_requested) and not j.state.is_terminal
            out.print(f"{j.id} {state(j.state)}" + (" (stopping)" if stopping else ""))
            return
        results = c.cancel_many(job_ids)
    for r in results:
        out.print(f"{r.job_id} {r.result}" + (f": {r.message}" if r.result in BAD else ""))
    if any(r.result in BAD for r in results):
        raise typer.Exit(2)


@app.command()
def nodes(as_json: JsonOpt = False) -> None:
    """Nodes, their accelerators, and what is in use."""
    with errors(), _client() as c:
        found = c.nodes()
    if as_json:
        out.print_json(json.dumps([n.model_dump(mode="json") for n in found]))
        return
    table = Table(box=None, header_style="bold")
    for col in ("NODE", "POOL", "ENGINE", "STATE", "ACCEL", "USED", "CPUS USED", "MEM USED"):
        table.add_column(col)
    for n in found:
        acc = f"{n.accelerators}x{n.accelerator_type}" if n.accelerators else "cpu only"
        table.add_row(
            n.name,
            n.pool,
            n.engine,
            n.state + (f" ({n.state_reason})" if n.state_reason else ""),
            acc,
            f"{n.accelerators_used}/{n.accelerators}",
            f"{n.cpus_used}/{n.cpus}",
            f"{n.memory_mib_used // 1024}/{n.memory_mib // 1024} GiB",
        )
    out.print(table)


def main() -> None:
    app()
