"""`aidc dataset upload NAME DIR`: hash the folder's files, declare them, send them in
chunks with a progress bar, commit. Interrupted uploads resume: the upload id and the
files' hashes are kept in a state file next to the CLI's config, and a new run with the
same folder continues from what the server says has arrived."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from aidc.cli.output import err, fail
from aidc.client import ApiError, Client, config_path
from aidc.schemas_datasets import UploadView

DEFAULT_CHUNK = 16 * 1024 * 1024


def scan(folder: Path) -> list[dict[str, Any]]:
    """The regular files under ``folder`` (relative POSIX paths, sizes, mtimes)."""
    if not folder.is_dir():
        fail(f"{folder} is not a folder")
    found = []
    for dirpath, dirs, names in os.walk(folder):
        dirs.sort()
        for n in sorted(names):
            full = Path(dirpath) / n
            if full.is_symlink() or not full.is_file():
                fail(f"{full}: only regular files can be uploaded (not links or devices)")
            st = full.stat()
            rel = full.relative_to(folder).as_posix()
            found.append({"path": rel, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    if not found:
        fail(f"{folder} has no files")
    return found


def state_file(c: Client, name: str, folder: Path) -> Path:
    key = hashlib.sha256(f"{c.url}|{name}|{folder.resolve()}".encode()).hexdigest()[:24]
    return config_path().parent / "uploads" / f"{key}.json"


def upload(c: Client, name: str, folder: Path, note: str, chunk: int) -> UploadView:
    files = scan(folder)
    sf = state_file(c, name, folder)
    saved = _load(sf)
    view: UploadView | None = None
    if saved and _same(saved["files"], files):
        files = saved["files"]
        try:
            view = c.upload_status(name, saved["upload_id"])
        except ApiError as e:
            if e.status != 404:
                raise
        if view is not None and view.state not in ("uploading", "ready"):
            view = None
        if view is not None:
            err.print(f"resuming upload of {name} version {view.version}")
    if view is None:
        _hash_all(folder, files)
        decl = [{k: f[k] for k in ("path", "size", "sha256")} for f in files]
        view = c.start_upload(name, decl, note)
        sf.parent.mkdir(parents=True, exist_ok=True)
        sf.write_text(json.dumps({"upload_id": view.upload_id, "files": files}))
    if view.state == "uploading":
        _send(c, name, folder, view, chunk)
        view = c.commit_upload(name, view.upload_id)
    sf.unlink(missing_ok=True)
    return view


def _send(c: Client, name: str, folder: Path, view: UploadView, chunk: int) -> None:
    done = sum(f.received for f in view.files)
    with _progress() as bar:
        task = bar.add_task(f"{name} v{view.version}", total=view.total_bytes, completed=done)
        for f in view.files:
            offset = f.received
            with open(folder / f.path, "rb") as src:
                src.seek(offset)
                while offset < f.size:
                    data = src.read(min(chunk, f.size - offset))
                    if not data:
                        fail(f"{f.path} became shorter while uploading; start again")
                    try:
                        got = c.put_chunk(name, view.upload_id, f.idx, offset, data)
                    except ApiError as e:
                        if e.status != 409:
                            raise
                        # Another try already got further (a lost answer): ask where.
                        now = c.upload_status(name, view.upload_id).files[f.idx].received
                        bar.advance(task, now - offset)
                        offset = now
                        src.seek(offset)
                        continue
                    bar.advance(task, got.received - offset)
                    offset = got.received


def _hash_all(folder: Path, files: list[dict[str, Any]]) -> None:
    total = sum(f["size"] for f in files)
    with _progress() as bar:
        task = bar.add_task("checksums", total=total)
        for f in files:
            h = hashlib.sha256()
            with open(folder / f["path"], "rb") as src:
                while data := src.read(DEFAULT_CHUNK):
                    h.update(data)
                    bar.advance(task, len(data))
            f["sha256"] = h.hexdigest()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _same(saved: list[dict[str, Any]], now: list[dict[str, Any]]) -> bool:
    def key(fs: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
        return [(f["path"], f["size"], f["mtime_ns"]) for f in fs]

    return key(saved) == key(now)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None
