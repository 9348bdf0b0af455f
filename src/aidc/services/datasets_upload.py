"""Uploading a dataset version: declare the files (path, size, SHA-256), send each file's
bytes in chunks at increasing offsets (resumable: the upload says how much of each file
arrived), then commit, which checks every file's checksum and makes the version immutable.

The organisation's storage quota is checked when the upload is declared (with its whole
size) and again before each chunk is written, so no byte is stored beyond the quota.
Bytes are written outside any transaction; the count of received bytes moves only after
the write, with a compare-and-set, so a chunk whose answer was lost can simply be resent.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aidc.core.datasets import file_path_problem
from aidc.core.tenancy import Principal
from aidc.schemas_datasets import FileSum, UploadCreate, UploadFileView, UploadView
from aidc.services.center import Center
from aidc.services.datasets import ABORTED, EXPIRED, READY, UPLOADING, by_name
from aidc.services.datasets_access import may_manage
from aidc.services.datasets_audit import record
from aidc.services.datasets_place import place
from aidc.services.datasets_quota import over_quota
from aidc.services.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from aidc.storage import Corrupt
from aidc.store.models_datasets import Dataset, DatasetFile, DatasetVersion

MAX_CHUNK_BYTES = 64 * 1024 * 1024


def staged_key(upload_id: str, idx: int) -> str:
    return f"staging/{upload_id}/{idx}"


def final_key(dataset: str, version: int, path: str) -> str:
    return f"data/{dataset}/{version}/{path}"


def start_upload(center: Center, p: Principal, name: str, body: UploadCreate) -> UploadView:
    """A new version in state uploading, refused before any byte if the declared files
    are unsafe or would not fit the owner's storage quota."""
    seen: set[str] = set()
    for i, f in enumerate(body.files):
        problem = file_path_problem(f.path)
        if problem is not None:
            raise Invalid(f"file name {f.path!r} {problem}", field=f"files.{i}.path")
        if f.path in seen:
            raise Invalid(f"file {f.path!r} is listed twice", field=f"files.{i}.path")
        seen.add(f.path)
    _no_file_is_a_folder(seen)
    total = sum(f.size for f in body.files)
    default_gb = place(center).default_org_storage_gb
    with center.db.transaction() as s:
        ds = by_name(s, name, for_update=True)
        _may_upload(p, ds)
        over = over_quota(s, ds.owner_org_id, total, default_gb)
        if over is not None:
            raise Invalid(over, field="files")
        newest = s.scalar(
            select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == ds.id)
        )
        v = DatasetVersion(
            dataset_id=ds.id,
            version=(newest or 0) + 1,
            state=UPLOADING,
            upload_id=secrets.token_hex(16),
            total_bytes=total,
            file_count=len(body.files),
            note=body.note,
            created_by=p.username,
            created_at=center.clock(),
        )
        s.add(v)
        s.flush()
        for i, f in enumerate(body.files):
            s.add(
                DatasetFile(version_id=v.id, idx=i, path=f.path, size=f.size, sha256=f.sha256 or "")
            )
        s.flush()
        return _view(s, ds, v)


def show_upload(center: Center, p: Principal, name: str, upload_id: str) -> UploadView:
    with center.db.read() as s:
        ds, v = _upload(s, p, name, upload_id)
        return _view(s, ds, v)


@dataclass(frozen=True)
class ChunkTicket:
    """A chunk that passed its checks, to be written and then counted."""

    upload_id: str
    idx: int
    file_id: int
    path: str
    size: int
    offset: int
    length: int

    @property
    def key(self) -> str:
        return staged_key(self.upload_id, self.idx)


def begin_chunk(
    center: Center, p: Principal, name: str, upload_id: str, idx: int, offset: int, length: int
) -> ChunkTicket:
    """Check a chunk of ``length`` bytes at ``offset`` of file ``idx`` before any of its
    bytes is taken: the offset must be what has arrived, the chunk within the declared
    size, and the owner within its quota (which may have shrunk since the upload began)."""
    if not 0 < length <= MAX_CHUNK_BYTES:
        raise Invalid(f"chunks are 1 to {MAX_CHUNK_BYTES} bytes", field="chunk")
    pl = place(center)
    with center.db.read() as s:
        ds, v = _upload(s, p, name, upload_id)
        _still_uploading(v, name)
        f = _file(s, v, idx)
        if offset != f.received:
            raise Conflict(
                f"file {f.path}: {f.received} bytes have arrived; send from there",
                field="offset",
            )
        if offset + length > f.size:
            raise Invalid(
                f"file {f.path} was declared {f.size} bytes; this chunk goes past it",
                field="chunk",
            )
        over = over_quota(s, ds.owner_org_id, 0, pl.default_org_storage_gb)
        if over is not None:
            raise Invalid(over, field="chunk")
        return ChunkTicket(upload_id, idx, f.id, f.path, f.size, offset, length)


def running_hash(t: ChunkTicket) -> Any:
    """The file's SHA-256 so far, to be fed this chunk (None: it will be read at commit)."""
    return _RUNNING.take((t.upload_id, t.idx), t.offset)


def end_chunk(center: Center, t: ChunkTicket, hasher: Any) -> UploadFileView:
    """Count a written chunk (compare-and-set: a duplicate that raced it counts once)."""
    with center.db.transaction() as s:
        result = s.execute(
            update(DatasetFile)
            .where(DatasetFile.id == t.file_id, DatasetFile.received == t.offset)
            .values(received=t.offset + t.length)
        )
        moved = getattr(result, "rowcount", 0)
    if moved and hasher is not None:
        _RUNNING.keep((t.upload_id, t.idx), t.offset + t.length, hasher)
    return UploadFileView(idx=t.idx, path=t.path, size=t.size, received=t.offset + t.length)


def put_chunk(
    center: Center, p: Principal, name: str, upload_id: str, idx: int, offset: int, data: bytes
) -> UploadFileView:
    """Write ``data`` at ``offset`` of file ``idx``; the offset must be what has arrived."""
    t = begin_chunk(center, p, name, upload_id, idx, offset, len(data))
    h = running_hash(t)
    place(center).storage.write_chunk(t.key, offset, data)
    if h is not None:
        h.update(data)
    return end_chunk(center, t, h)


def commit(
    center: Center, p: Principal, name: str, upload_id: str, sums: list[FileSum] | None = None
) -> UploadView:
    """Check every file's size and SHA-256, move them to the version's place and make the
    version ready. A file that does not match is dropped and must be sent again. Files
    declared without a SHA-256 get theirs from ``sums``."""
    pl = place(center)
    given = {f.idx: f.sha256 for f in sums or []}
    with center.db.read() as s:
        ds, v = _upload(s, p, name, upload_id)
        if v.state == READY:
            return _view(s, ds, v)
        _still_uploading(v, name)
        files = list(s.scalars(select(DatasetFile).where(DatasetFile.version_id == v.id)))
        missing = [f.path for f in files if f.received != f.size]
        if missing:
            raise Invalid(
                f"{len(missing)} file(s) have not fully arrived, e.g. {missing[0]}", "files"
            )
        clash = [f.path for f in files if f.sha256 and given.get(f.idx, f.sha256) != f.sha256]
        if clash:
            raise Invalid(f"{clash[0]}: the SHA-256 differs from the one declared", "files")
        unknown = [f.path for f in files if not f.sha256 and f.idx not in given]
        if unknown:
            raise Invalid(f"give the SHA-256 of {unknown[0]} (and every file without one)", "files")
        version = v.version
        todo = [(f.id, f.idx, f.path, f.size, f.sha256 or given[f.idx]) for f in files]
    bad: list[tuple[int, str, str]] = []
    for file_id, idx, path, size, sha in todo:
        staged, final = staged_key(upload_id, idx), final_key(name, version, path)
        try:
            if size == 0 and not pl.storage.exists(staged):
                pl.storage.write_chunk(staged, 0, b"")
            if pl.storage.exists(staged) or not pl.storage.exists(final):
                # Hashed as it arrived (same process, in order): no second read.
                hashed = _RUNNING.digest((upload_id, idx), size)
                pl.storage.commit_staged(staged, final, size, sha, hashed=hashed)
            else:  # moved by a commit that was interrupted: check what is there
                pl.storage.verify(final, size, sha)
        except Corrupt as e:
            bad.append((file_id, path, str(e)))
            pl.storage.delete_tree(staged)
    with center.db.transaction() as s:
        ds, v = _upload(s, p, name, upload_id)
        _still_uploading(v, name)  # expired meanwhile: its staged bytes are gone
        if bad:
            for file_id, _, _ in bad:
                s.execute(update(DatasetFile).where(DatasetFile.id == file_id).values(received=0))
        else:
            for file_id, _, _, _, sha in todo:
                s.execute(update(DatasetFile).where(DatasetFile.id == file_id).values(sha256=sha))
            v.state = READY
            v.committed_at = center.clock()
            record(
                s,
                at=center.clock(),
                actor=p.username,
                action="upload",
                dataset=name,
                version=version,
                detail=f"{v.file_count} files, {v.total_bytes} bytes",
            )
        view = _view(s, ds, v)
    _RUNNING.forget(upload_id)
    if not bad:
        pl.storage.seal(f"data/{name}/{version}")
    if bad:
        raise Invalid(
            f"{len(bad)} file(s) do not match their declared checksum; send them again: "
            f"{bad[0][2]}",
            field="files",
        )
    return view


def abort(center: Center, p: Principal, name: str, upload_id: str) -> UploadView:
    pl = place(center)
    with center.db.transaction() as s:
        ds, v = _upload(s, p, name, upload_id)
        _still_uploading(v, name)
        v.state = ABORTED
        view = _view(s, ds, v)
    pl.storage.delete_tree(f"staging/{upload_id}")
    _RUNNING.forget(upload_id)
    return view


# -- helpers ------------------------------------------------------------------------------


class _RunningHashes:
    """SHA-256 of staged files computed as their chunks arrive, in this process. Only an
    optimisation: a file whose chunks went to another process (or arrived after a
    restart) has no entry, and commit reads it back to hash it."""

    def __init__(self) -> None:
        self._h: dict[tuple[str, int], tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, int], offset: int) -> Any:
        with self._lock:
            at, h = self._h.pop(key, (0, None))
        if offset == 0:
            return hashlib.sha256()
        return h if at == offset else None

    def keep(self, key: tuple[str, int], at: int, h: Any) -> None:
        with self._lock:
            self._h[key] = (at, h)

    def digest(self, key: tuple[str, int], size: int) -> str | None:
        with self._lock:
            at, h = self._h.get(key, (0, None))
        return str(h.hexdigest()) if h is not None and at == size else None

    def forget(self, upload_id: str) -> None:
        with self._lock:
            for key in [k for k in self._h if k[0] == upload_id]:
                del self._h[key]


_RUNNING = _RunningHashes()


def forget_running(upload_id: str) -> None:
    """Drop the running hashes of an upload that ended without a commit."""
    _RUNNING.forget(upload_id)


def _may_upload(p: Principal, ds: Dataset) -> None:
    if not may_manage(p, ds):
        raise Forbidden(f"only the owners of {ds.name} (or operators) upload its versions")


def _upload(s: Session, p: Principal, name: str, upload_id: str) -> tuple[Dataset, DatasetVersion]:
    ds = by_name(s, name)
    _may_upload(p, ds)
    v = s.scalars(
        select(DatasetVersion).where(
            DatasetVersion.upload_id == upload_id, DatasetVersion.dataset_id == ds.id
        )
    ).first()
    if v is None:
        raise NotFound(f"no upload {upload_id!r} of {name}", field="upload")
    return ds, v


def _still_uploading(v: DatasetVersion, name: str) -> None:
    if v.state == EXPIRED:
        raise Gone(
            f"upload of {name} version {v.version} expired without a commit and its bytes "
            "were dropped; start a new upload",
            field="upload",
        )
    if v.state != UPLOADING:
        raise Conflict(f"upload of {name} version {v.version} is {v.state}", field="upload")


def _file(s: Session, v: DatasetVersion, idx: int) -> DatasetFile:
    f = s.scalars(
        select(DatasetFile).where(DatasetFile.version_id == v.id, DatasetFile.idx == idx)
    ).first()
    if f is None:
        raise NotFound(f"the upload has no file number {idx}", field="file")
    return f


def _no_file_is_a_folder(paths: set[str]) -> None:
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in paths:
                raise Invalid(f"{prefix!r} is both a file and a folder", field="files")


def _view(s: Session, ds: Dataset, v: DatasetVersion) -> UploadView:
    files = s.scalars(
        select(DatasetFile).where(DatasetFile.version_id == v.id).order_by(DatasetFile.idx)
    )
    return UploadView(
        dataset=ds.name,
        version=v.version,
        upload_id=v.upload_id,
        state=v.state,
        total_bytes=v.total_bytes,
        files=[
            UploadFileView(idx=f.idx, path=f.path, size=f.size, received=f.received) for f in files
        ],
    )
