"""`aidc dataset upload NAME DIR`: declare the folder's files (paths and sizes), send them
in chunks with a progress bar while hashing them, commit with their SHA-256 (the server
compares them with what it received). Interrupted uploads resume: the upload id and the
files' sizes and times are kept in a state file next to the CLI's config, and a new run
with the same, unchanged folder continues from what the server says has arrived."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

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

# The largest chunk the server takes: fewer round trips (each one a transaction).
DEFAULT_CHUNK = 64 * 1024 * 1024


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
        # Declared by size; each file's SHA-256 is computed while it is sent (one read)
        # and given at commit, where the server compares it with what it received.
        decl = [{"path": f["path"], "size": f["size"]} for f in files]
        view = c.start_upload(name, decl, note)
        sf.parent.mkdir(parents=True, exist_ok=True)
        sf.write_text(json.dumps({"upload_id": view.upload_id, "files": files}))
    if view.state == "uploading":
        sums = _send(c, name, folder, view, chunk)
        view = c.commit_upload(name, view.upload_id, sums)
    sf.unlink(missing_ok=True)
    return view


def _send(c: Client, name: str, folder: Path, view: UploadView, chunk: int) -> dict[int, str]:
    """Send what has not arrived of each file; every file's SHA-256 (a resumed file's
    first part is read again to hash it, not sent again)."""
    sums: dict[int, str] = {}
    done = sum(f.received for f in view.files)
    with _progress() as bar, ThreadPoolExecutor(2, thread_name_prefix="upload") as pool:
        task = bar.add_task(f"{name} v{view.version}", total=view.total_bytes, completed=done)
        for f in view.files:
            sent = _FileSender(c, name, view.upload_id, folder / f.path, f.idx, f.size, chunk)
            sums[f.idx] = sent.run(pool, f.received, lambda n: bar.advance(task, n))
    return sums


class _FileSender:
    """One file's chunks in order. While a chunk is on the wire, the next one is read and
    this one hashed, in threads (file reads, hashlib and socket writes release the GIL),
    so that the file is read once and the hashing costs no time of its own."""

    def __init__(
        self, c: Client, name: str, upload_id: str, path: Path, idx: int, size: int, chunk: int
    ) -> None:
        self.c, self.name, self.upload_id = c, name, upload_id
        self.path, self.idx, self.size, self.chunk = path, idx, size, chunk

    def run(self, pool: ThreadPoolExecutor, received: int, advance: Callable[[int], None]) -> str:
        with open(self.path, "rb") as src:
            h, offset = self._hash_prefix(src, received)
            ahead: Future[bytes] | None = None
            hashing: Future[None] | None = None
            while offset < self.size:
                data = ahead.result() if ahead else src.read(min(self.chunk, self.size - offset))
                if not data:
                    fail(f"{self.path} became shorter while uploading; start again")
                end = offset + len(data)
                if hashing is not None:
                    hashing.result()
                hashing = pool.submit(h.update, data)
                ahead = pool.submit(src.read, min(self.chunk, self.size - end))
                got = _put(self.c, self.name, self.upload_id, self.idx, offset, data)
                if not offset < got <= end:
                    fail(f"{self.path}: the server holds {got} bytes, not what was sent")
                advance(got - offset)
                if got != end:  # it kept less than was sent: hash again up to what it holds
                    hashing.result()
                    ahead.result()
                    h, offset = self._hash_prefix(src, got)
                    ahead = hashing = None
                    continue
                offset = end
                if offset >= self.size:
                    ahead.result()
            if hashing is not None:
                hashing.result()
        return str(h.hexdigest())

    def _hash_prefix(self, src: BinaryIO, upto: int) -> tuple[Any, int]:
        """The hash of the file's first ``upto`` bytes (arrived before: hashed, not sent),
        with the file positioned after them."""
        h = hashlib.sha256()
        src.seek(0)
        offset = 0
        while offset < upto:
            data = src.read(min(self.chunk, upto - offset))
            if not data:
                fail(f"{self.path} is shorter than what was sent before; start again")
            h.update(data)
            offset += len(data)
        return h, offset


def _put(c: Client, name: str, upload_id: str, idx: int, offset: int, data: bytes) -> int:
    """Send a chunk; how many bytes of the file the server holds now."""
    try:
        return c.put_chunk(name, upload_id, idx, offset, data).received
    except ApiError as e:
        if e.status != 409:
            raise
        # An earlier try of this chunk arrived though its answer was lost: ask where.
        return c.upload_status(name, upload_id).files[idx].received


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
