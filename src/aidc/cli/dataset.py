"""`aidc dataset`: the catalog, uploads and downloads, access grants and the airlock;
`aidc audit`: the dataset audit log."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aidc.batched_thread import BatchedThread
from aidc.cli.dataset_upload import DEFAULT_CHUNK, upload
from aidc.cli.output import errors, fail, out, when
from aidc.client import Client
from aidc.core.datasets import parse_mount

app = typer.Typer(no_args_is_help=True, help="Datasets: catalog, uploads, grants, airlock.")
grant_app = typer.Typer(no_args_is_help=True, help="Access grants to restricted datasets.")
airlock_app = typer.Typer(no_args_is_help=True, help="Outputs of jobs that read restricted data.")
app.add_typer(grant_app, name="grant")
app.add_typer(airlock_app, name="airlock")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameArg = Annotated[str, typer.Argument(help="The dataset's name.")]
RefArg = Annotated[str, typer.Argument(help="NAME or NAME@VERSION (default: the newest).")]


def _ref(text: str) -> tuple[str, int | None]:
    try:
        m = parse_mount(text.split(":", 1)[0])
    except ValueError as e:
        fail(str(e))
    return str(m["name"]), m.get("version")


def _dump(obj: object) -> None:
    out.print_json(json.dumps(obj, default=lambda o: o.model_dump()))


@app.command("create")
def create(
    name: NameArg,
    sector: Annotated[
        str,
        typer.Option(
            help="automotive, energy, healthcare, manufacturing, culture-content, public, other."
        ),
    ],
    tier: Annotated[str, typer.Option(help="public, registered or restricted.")],
    owner: Annotated[
        str | None, typer.Option(help="Owning organisation (default: the center).")
    ] = None,
    title: Annotated[str, typer.Option(help="A one-line title.")] = "",
    card: Annotated[Path | None, typer.Option(help="A markdown file describing the data.")] = None,
    licence: Annotated[str, typer.Option(help="The licence, e.g. CC-BY-4.0.")] = "",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a dataset (its data comes with `aidc dataset upload`)."""
    text = card.read_text() if card else ""
    with errors(), Client.from_config() as c:
        d = c.create_dataset(
            name=name,
            sector=sector,
            tier=tier,
            owner=owner,
            title=title,
            card=text,
            licence=licence,
            tags=tag or [],
        )
    _dump(d) if as_json else out.print(f"created {d.name} ({d.tier}, owner {d.owner})")


@app.command("search")
def search(
    text: Annotated[str | None, typer.Argument(help="Text in the name or title.")] = None,
    sector: Annotated[str | None, typer.Option(help="Only this sector.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only datasets with this tag.")] = None,
    tier: Annotated[str | None, typer.Option(help="public, registered or restricted.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the catalog."""
    with errors(), Client.from_config() as c:
        found = c.datasets(q=text, sector=sector, tag=tag, tier=tier)
    if as_json:
        return _dump(found)
    table = Table("NAME", "TIER", "SECTOR", "OWNER", "TAGS", "TITLE")
    for d in found:
        table.add_row(d.name, d.tier, d.sector, escape(d.owner), ",".join(d.tags), escape(d.title))
    out.print(table)


@app.command("show")
def show(name: NameArg, as_json: JsonOpt = False) -> None:
    """A dataset's card and versions."""
    with errors(), Client.from_config() as c:
        d = c.dataset(name)
    if as_json:
        return _dump(d)
    out.print(
        f"[bold]{d.name}[/] {escape(d.title)}\n{d.tier} · {d.sector} · owner "
        f"{escape(d.owner)} · licence {escape(d.licence or '-')} · tags {', '.join(d.tags)}"
    )
    if d.card:
        out.print(escape(d.card))
    table = Table("VERSION", "STATE", "FILES", "BYTES", "COMMITTED", "BY")
    for v in d.versions:
        table.add_row(
            str(v.version),
            v.state,
            str(v.file_count),
            f"{v.total_bytes:,}",
            when(v.committed_at),
            v.created_by,
        )
    out.print(table)


@app.command("upload")
def upload_cmd(
    name: NameArg,
    folder: Annotated[Path, typer.Argument(help="The folder whose files become a version.")],
    note: Annotated[str, typer.Option(help="What changed in this version.")] = "",
    chunk_mb: Annotated[int, typer.Option(help="Chunk size in MiB.")] = DEFAULT_CHUNK >> 20,
) -> None:
    """Upload a folder as a new version, resumably: run it again to continue."""
    if not 1 <= chunk_mb <= 64:
        fail("--chunk-mb: between 1 and 64")
    with errors(), Client.from_config() as c:
        v = upload(c, name, folder, note, chunk_mb << 20)
    out.print(
        f"{name} version {v.version}: {len(v.files)} files, {v.total_bytes:,} bytes, {v.state}"
    )


@app.command("files")
def files(ref: RefArg, as_json: JsonOpt = False) -> None:
    """A version's manifest: path, size and SHA-256 of each file."""
    name, version = _ref(ref)
    with errors(), Client.from_config() as c:
        m = c.manifest(name, version)
    if as_json:
        return _dump(m)
    table = Table("PATH", "BYTES", "SHA-256")
    for f in m.files:
        table.add_row(escape(f.path), f"{f.size:,}", f.sha256)
    out.print(table)


@app.command("download")
def download(
    ref: RefArg,
    path: Annotated[str, typer.Argument(help="The file inside the version.")],
    output: Annotated[Path | None, typer.Option("-o", help="Write here (default stdout).")] = None,
) -> None:
    """Download one file (checked against its SHA-256). Restricted data cannot be."""
    name, version = _ref(ref)
    with errors(), Client.from_config() as c:
        _write(c.download_file(name, version, path), output)


@app.command("export")
def export(
    ref: RefArg,
    output: Annotated[Path, typer.Option("-o", help="The .tar file to write.")],
) -> None:
    """The whole version as a tar archive. Restricted data cannot be."""
    name, version = _ref(ref)
    with errors(), Client.from_config() as c:
        _write(c.archive(name, version), output)


@app.command("preview")
def preview(
    ref: RefArg,
    path: Annotated[str, typer.Argument(help="A .csv, .tsv, .parquet or image file.")],
    rows: Annotated[int, typer.Option(help="How many rows.")] = 10,
    thumbnail: Annotated[Path | None, typer.Option(help="Save an image's thumbnail here.")] = None,
) -> None:
    """The first rows of a table, or an image's thumbnail (public and registered data)."""
    name, version = _ref(ref)
    with errors(), Client.from_config() as c:
        pv = c.preview(name, version, path, rows)
    if pv.kind == "image":
        if thumbnail is None:
            fail("--thumbnail: where should the PNG thumbnail go?")
        thumbnail.write_bytes(base64.b64decode(pv.thumbnail_png_base64))
        return out.print(f"thumbnail written to {thumbnail}")
    table = Table(*[escape(col) for col in pv.columns])
    for r in pv.rows:
        table.add_row(*[escape(x) for x in r])
    out.print(table)


@app.command("storage")
def storage(
    org: Annotated[str | None, typer.Option("--org", help="Organisation (default yours).")] = None,
) -> None:
    """An organisation's dataset storage: used and allowed."""
    with errors(), Client.from_config() as c:
        st = c.storage(org)
    out.print(f"{escape(st.organisation)}: {st.used_bytes:,} of {st.limit_bytes:,} bytes")


# -- grants -------------------------------------------------------------------------------


@grant_app.command("request")
def grant_request(
    name: NameArg,
    project: Annotated[str, typer.Option("--project", "-p", help="The project that needs it.")],
    purpose: Annotated[str, typer.Option(help="What the data is for.")],
    days: Annotated[float, typer.Option(help="How long, from now.")] = 90,
) -> None:
    """Ask for a project's access to a restricted dataset."""
    with errors(), Client.from_config() as c:
        g = c.request_grant(
            dataset=name, project=project, purpose=purpose, ends_at=time.time() + days * 86400
        )
    out.print(f"grant {g.id} requested: {g.dataset} for {g.project}; a data steward decides")


@grant_app.command("list")
def grant_list(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    state: Annotated[
        str | None, typer.Option(help="requested, approved, rejected, revoked.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    with errors(), Client.from_config() as c:
        grants = c.grants(dataset, state)
    if as_json:
        return _dump(grants)
    table = Table("ID", "DATASET", "PROJECT", "STATE", "LIVE", "ENDS", "PURPOSE")
    for g in grants:
        table.add_row(
            str(g.id),
            g.dataset,
            g.project,
            g.state,
            "yes" if g.live else "no",
            when(g.ends_at),
            escape(g.purpose),
        )
    out.print(table)


def _decide(decision: str):  # type: ignore[no-untyped-def]
    def command(
        grant_id: Annotated[int, typer.Argument(help="The grant's id.")],
        reason: Annotated[str, typer.Option(help="Why (required to reject).")] = "",
    ) -> None:
        with errors(), Client.from_config() as c:
            g = c.decide_grant(grant_id, decision, reason)
        out.print(f"grant {g.id}: {g.state}")

    command.__doc__ = f"{decision.capitalize()} an access grant (data stewards)."
    return command


for _d in ("approve", "reject", "revoke"):
    grant_app.command(_d)(_decide(_d))


# -- airlock ------------------------------------------------------------------------------


@airlock_app.command("list")
def airlock_list(
    state: Annotated[str | None, typer.Option(help="held, released or rejected.")] = None,
    as_json: JsonOpt = False,
) -> None:
    with errors(), Client.from_config() as c:
        outs = c.airlock(state)
    if as_json:
        return _dump(outs)
    table = Table("JOB", "PROJECT", "STATE", "FILES", "BYTES", "DATASETS", "CAPTURED")
    for o in outs:
        table.add_row(
            o.job_id,
            o.project,
            o.state,
            str(len(o.files)),
            f"{o.total_bytes:,}",
            ",".join(o.datasets),
            when(o.captured_at),
        )
    out.print(table)


@airlock_app.command("show")
def airlock_show(job_id: str, as_json: JsonOpt = False) -> None:
    with errors(), Client.from_config() as c:
        o = c.airlock_output(job_id)
    if as_json:
        return _dump(o)
    out.print(f"job {o.job_id} ({o.project}): {o.state} {escape(o.reason)}")
    for f in o.files:
        out.print(f"  {escape(f.path)}  {f.size:,} bytes  {f.sha256}")


@airlock_app.command("release")
def airlock_release(job_id: str, reason: Annotated[str, typer.Option()] = "") -> None:
    """Release a job's outputs to its project (data stewards)."""
    with errors(), Client.from_config() as c:
        o = c.decide_output(job_id, "release", reason)
    out.print(f"job {o.job_id}: outputs {o.state}")


@airlock_app.command("reject")
def airlock_reject(job_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """Reject a job's outputs, saying why (data stewards)."""
    with errors(), Client.from_config() as c:
        o = c.decide_output(job_id, "reject", reason)
    out.print(f"job {o.job_id}: outputs {o.state}")


@airlock_app.command("download")
def airlock_download(
    job_id: str,
    path: str,
    output: Annotated[Path | None, typer.Option("-o", help="Write here (default stdout).")] = None,
) -> None:
    """Download a released output file."""
    with errors(), Client.from_config() as c:
        _write(c.download_output(job_id, path), output)


# -- audit (registered as `aidc audit`) ---------------------------------------------------


def audit(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user (or job:ID).")] = None,
    action: Annotated[str | None, typer.Option(help="download, mount, grant-approve, ...")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    refused: Annotated[bool, typer.Option(help="Only refusals.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 1000,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (to export).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The dataset audit log, newest first (operators and data stewards)."""
    filters = {
        "dataset": dataset,
        "actor": actor,
        "action": action,
        "project": project,
        "outcome": "refused" if refused else None,
        "limit": limit,
    }
    with errors(), Client.from_config() as c:
        if as_csv:
            sys.stdout.write(c.dataset_audit_csv(**filters))
            return
        rows = c.dataset_audit(**filters)
    if as_json:
        return _dump(rows)
    table = Table("WHEN", "ACTOR", "ACTION", "OUTCOME", "DATASET", "PROJECT", "JOB", "DETAIL")
    for r in rows:
        ds = f"{r.dataset}@{r.version}" if r.version else r.dataset
        table.add_row(
            when(r.at),
            escape(r.actor),
            r.action,
            r.outcome,
            ds,
            r.project,
            r.job_id,
            escape(r.detail[:80]),
        )
    out.print(table)


def _write(chunks: Iterator[bytes], output: Path | None) -> None:
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    part = output.with_name(output.name + ".part")
    with open(part, "wb") as f, BatchedThread(f.write, "write") as writing:
        for chunk in chunks:
            writing.add(chunk)
    part.replace(output)  # only complete, verified downloads get the name
