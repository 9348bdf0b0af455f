"""Reading dataset bytes over the API: a version's manifest, one file, the version as a
tar archive, a preview. Every read is audited; restricted data is refused (403 and an
audit row) whatever is asked, before the version or file is even looked up, so guessing
versions or paths learns nothing."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidc.core.datasets import Tier
from aidc.core.tenancy import Principal
from aidc.schemas_datasets import FileView, ManifestView
from aidc.services.center import Center
from aidc.services.datasets import by_name, ready_version
from aidc.services.datasets_access import bytes_refusal, is_steward, may_manage
from aidc.services.datasets_audit import record, refuse
from aidc.services.datasets_place import place
from aidc.services.datasets_upload import final_key
from aidc.services.errors import NotFound
from aidc.storage import Corrupt, Storage
from aidc.store.models_datasets import Dataset, DatasetFile, DatasetVersion

# Files up to this size are checked whole before the answer starts, so a corrupt one is a
# clean error; larger ones are checked as they stream (a mismatch cuts the stream, and the
# client checks the SHA-256 against the manifest too).
VERIFY_FIRST_BYTES = 64 * 1024 * 1024


def manifest(center: Center, p: Principal, name: str, version: int | None) -> ManifestView:
    """The files of a version. Restricted datasets' manifests are for their owners and
    stewards (file names can say too much)."""
    with center.db.read() as s:
        ds = by_name(s, name)
        restricted = ds.tier == Tier.RESTRICTED and not (is_steward(p) or may_manage(p, ds))
    if restricted:
        refuse(center, p, "manifest", name, f"{name} is restricted", version=version)
    with center.db.read() as s:
        ds = by_name(s, name)
        v = _version(s, ds, version)
        files = _files(s, v)
        return ManifestView(
            dataset=name,
            version=v.version,
            total_bytes=v.total_bytes,
            files=[FileView(path=f.path, size=f.size, sha256=f.sha256) for f in files],
        )


def open_file(
    center: Center, p: Principal, name: str, version: int | None, path: str
) -> tuple[FileView, Iterator[bytes]]:
    """One file's metadata and its verified bytes (Corrupt if they do not match)."""
    v_num, f = _allowed(center, p, "download", name, version, path)
    key = final_key(name, v_num, f.path)
    storage = place(center).storage
    meta = FileView(path=f.path, size=f.size, sha256=f.sha256)
    if f.size <= VERIFY_FIRST_BYTES:
        _verify_or_audit(center, p, name, v_num, key, f)
    return meta, _audited(center, p, name, v_num, storage.read_verified(key, f.size, f.sha256))


def archive(center: Center, p: Principal, name: str, version: int | None) -> Iterator[bytes]:
    """The version as an uncompressed tar stream, each file verified as it is read."""
    v_num, _ = _allowed(center, p, "archive", name, version, None)
    with center.db.read() as s:
        files = _files(s, _version(s, by_name(s, name), v_num))
        todo = [(f.path, f.size, f.sha256) for f in files]
    return _tar(place(center).storage, name, v_num, todo)


def head_bytes(
    center: Center, p: Principal, name: str, version: int | None, path: str, limit: int
) -> tuple[int, DatasetFile, bytes]:
    """The first ``limit`` bytes of a file, for previews (audited as a preview)."""
    v_num, f = _allowed(center, p, "preview", name, version, path)
    return v_num, f, place(center).storage.read_head(final_key(name, v_num, f.path), limit)


# -- helpers ------------------------------------------------------------------------------


def _allowed(
    center: Center, p: Principal, action: str, name: str, version: int | None, path: str | None
) -> tuple[int, DatasetFile]:
    """The version number and file (for a path) ``p`` may read, after auditing the read;
    a refusal is audited and raised."""
    with center.db.read() as s:
        ds = by_name(s, name)
        why = bytes_refusal(s, p, ds)
    if why is not None:
        refuse(center, p, action, name, why, version=version)
    with center.db.transaction() as s:
        ds = by_name(s, name)
        v = _version(s, ds, version)
        f = _file(s, v, path) if path is not None else None
        record(
            s,
            at=center.clock(),
            actor=p.username,
            action=action,
            dataset=name,
            version=v.version,
            detail=path or "",
        )
        return v.version, f if f is not None else DatasetFile()


def _verify_or_audit(
    center: Center, p: Principal, name: str, version: int, key: str, f: DatasetFile
) -> None:
    try:
        place(center).storage.verify(key, f.size, f.sha256)
    except Corrupt as e:
        _record_corrupt(center, p, name, version, str(e))
        raise


def _audited(
    center: Center, p: Principal, name: str, version: int, chunks: Iterator[bytes]
) -> Iterator[bytes]:
    """``chunks``, recording a ``corrupt`` audit row if they turn out not to match."""
    try:
        yield from chunks
    except Corrupt as e:
        _record_corrupt(center, p, name, version, str(e))
        raise


def _record_corrupt(center: Center, p: Principal, name: str, version: int, why: str) -> None:
    with center.db.transaction() as s:
        record(
            s,
            at=center.clock(),
            actor=p.username,
            action="corrupt",
            outcome="refused",
            dataset=name,
            version=version,
            detail=why,
        )


def _version(s: Session, ds: Dataset, version: int | None) -> DatasetVersion:
    v = ready_version(s, ds, version)
    if v is None:
        what = f"version {version}" if version is not None else "a committed version"
        raise NotFound(f"{ds.name} has no {what}", field="version")
    return v


def _files(s: Session, v: DatasetVersion) -> list[DatasetFile]:
    return list(
        s.scalars(
            select(DatasetFile).where(DatasetFile.version_id == v.id).order_by(DatasetFile.path)
        )
    )


def _file(s: Session, v: DatasetVersion, path: str) -> DatasetFile:
    f = s.scalars(
        select(DatasetFile).where(DatasetFile.version_id == v.id, DatasetFile.path == path)
    ).first()
    if f is None:
        raise NotFound(f"version {v.version} has no file {path!r}", field="path")
    return f


def _tar(
    storage: Storage, name: str, version: int, files: list[tuple[str, int, str]]
) -> Iterator[bytes]:
    """A POSIX (pax) tar written as it streams: a header per file, its verified bytes,
    padding to 512-byte blocks, two zero blocks at the end; memory stays one chunk."""
    for path, size, sha in files:
        info = tarfile.TarInfo(f"{name}-{version}/{path}")
        info.size = size
        info.mode = 0o444
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        yield from storage.read_verified(final_key(name, version, path), size, sha)
        if size % tarfile.BLOCKSIZE:
            yield b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)
