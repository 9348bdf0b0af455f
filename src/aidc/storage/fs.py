"""A dataset store over fsspec: the local filesystem (default, under AIDC_HOME) or an
S3-compatible object store (s3fs).

Keys are relative POSIX paths under the root; callers check user-given names
(``core.datasets.file_path_problem``) and this module refuses any key that would still
leave the root. Uploads are staged: on the local filesystem each file is one staged file
written at offsets (committing is a rename); on object stores, which cannot write at an
offset, each chunk is an object named by its offset and committing streams them, in
order, into the final object. Both compute the SHA-256 of what they commit, so a
checksum is verified on write; ``read_verified`` verifies it again on every read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

READ_CHUNK = 4 * 1024 * 1024
MIN_PART = 5 * 1024 * 1024  # S3's smallest multipart part (but the last)


class Corrupt(Exception):
    """Stored bytes do not match their manifest (size or SHA-256)."""


class Storage:
    def __init__(self, fs: Any, root: str, url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url
        self.is_local = isinstance(fs, LocalFileSystem)

    # -- keys -----------------------------------------------------------------------------

    def path(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not a storage key: {key!r}")
        return f"{self.root}/{key}"

    def local_path(self, key: str) -> str | None:
        """The file's path on this host, where the store is a local filesystem."""
        return self.path(key) if self.is_local else None

    # -- staged uploads -------------------------------------------------------------------

    def write_chunk(self, key: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` of the staged file ``key`` (chunks come in order;
        a chunk sent again after a lost answer overwrites itself)."""
        w = self.chunk_writer(key, offset)
        w.write(data)
        w.close()

    def chunk_writer(self, key: str, offset: int) -> ChunkWriter:
        """A writer for one chunk from ``offset``, for bytes that arrive in pieces."""
        path = self.path(key)
        if self.is_local:
            return _LocalChunk(path, offset)
        return _ObjectChunk(self.fs, f"{path}/{offset:016d}")

    def commit_staged(
        self, staged: str, final: str, size: int, sha256: str, hashed: str | None = None
    ) -> None:
        """Move the staged file to ``final`` if its bytes are ``size`` long and hash to
        ``sha256``; else raise Corrupt and leave nothing at ``final``. ``hashed``: the
        SHA-256 its bytes were found to have as they were written (no second read)."""
        src, dst = self.path(staged), self.path(final)
        if self.is_local:
            if hashed is not None and os.path.getsize(src) == size:
                got_size, got = size, hashed
            else:
                got_size, got = _hash_local(src)
            if (got_size, got) != (size, sha256):
                raise Corrupt(_mismatch(final, size, sha256, got_size, got))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.chmod(src, 0o444)  # read-only: jobs see these files through links
            os.replace(src, dst)
            return
        if hashed is not None and self._copy_parts(src, dst, size):
            if hashed != sha256:
                self.fs.rm_file(dst)
                raise Corrupt(_mismatch(final, size, sha256, size, hashed))
            self.delete_tree(staged)
            return
        h = hashlib.sha256()
        written = 0
        with self.fs.open(dst, "wb") as out:
            for part in self._parts_in_order(src, size):
                data = self.fs.cat_file(part)
                h.update(data)
                out.write(data)
                written += len(data)
        if (written, h.hexdigest()) != (size, sha256):
            self.fs.rm_file(dst)
            raise Corrupt(_mismatch(final, size, sha256, written, h.hexdigest()))
        self.delete_tree(staged)

    def _copy_parts(self, src: str, dst: str, size: int) -> bool:
        """Join the staged chunk objects into ``dst`` inside the object store (an S3
        multipart upload whose parts are copies of them: no byte passes through aidc);
        False where S3 would not take them as parts (a chunk under 5 MiB before the last,
        more than 10,000, or a store without the S3 API), for the caller to stream."""
        call = getattr(self.fs, "call_s3", None)
        parts = list(self._parts_in_order(src, size, lengths=True))
        lengths = [n for _, n in parts]
        if (
            call is None
            or not parts
            or len(parts) > 10_000
            or min(lengths[:-1] or [MIN_PART]) < MIN_PART
        ):
            return False
        bucket, key, _ = self.fs.split_path(dst)
        upload = call("create_multipart_upload", Bucket=bucket, Key=key)["UploadId"]
        done = []
        try:
            for number, (name, _) in enumerate(parts, 1):
                src_bucket, src_key, _ = self.fs.split_path(name)
                source = {"Bucket": src_bucket, "Key": src_key}
                r = call("upload_part_copy", Bucket=bucket, Key=key, UploadId=upload,
                         PartNumber=number, CopySource=source)  # fmt: skip
                done.append({"PartNumber": number, "ETag": r["CopyPartResult"]["ETag"]})
            call("complete_multipart_upload", Bucket=bucket, Key=key, UploadId=upload,
                 MultipartUpload={"Parts": done})  # fmt: skip
        except BaseException:
            call("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload)
            raise
        self.fs.invalidate_cache(dst)
        return True

    def _parts_in_order(self, src: str, size: int, lengths: bool = False) -> Iterator[Any]:
        # Follow the chain offset -> offset + length from 0; a part left by a chunk whose
        # answer was lost was overwritten when it was sent again, so the chain is whole.
        if size == 0:
            return
        try:
            listing = self.fs.ls(src, detail=True)
        except FileNotFoundError:
            listing = []
        parts = {int(e["name"].rsplit("/", 1)[-1]): (e["name"], int(e["size"])) for e in listing}
        offset = 0
        while offset < size:
            if offset not in parts:
                raise Corrupt(f"the staged upload has no chunk at byte {offset}")
            name, length = parts[offset]
            yield (name, length) if lengths else name
            offset += length

    # -- whole objects --------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self.path(key)
        if self.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self.fs.pipe_file(path, data)
        return hashlib.sha256(data).hexdigest()

    def put_file(self, key: str, local_file: str) -> tuple[int, str]:
        """Copy a local file in; its size and SHA-256."""
        path = self.path(key)
        if self.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        h = hashlib.sha256()
        size = 0
        with open(local_file, "rb") as src, self.fs.open(path, "wb") as out:
            while chunk := src.read(READ_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        return size, h.hexdigest()

    def read_verified(
        self, key: str, size: int, sha256: str, *, start: int = 0, chunk: int = READ_CHUNK
    ) -> Iterator[bytes]:
        """The bytes of ``key``; Corrupt (after the last chunk) when they do not match.
        With ``start`` > 0 the bytes before it are read and hashed but not yielded."""
        h = hashlib.sha256()
        got = 0
        try:
            with self.fs.open(self.path(key), "rb") as f:
                while data := f.read(chunk):
                    h.update(data)
                    if got + len(data) > start:
                        yield data[max(0, start - got) :]
                    got += len(data)
        except FileNotFoundError:
            raise Corrupt(f"{key} is missing from the store") from None
        if (got, h.hexdigest()) != (size, sha256):
            raise Corrupt(_mismatch(key, size, sha256, got, h.hexdigest()))

    def verify(self, key: str, size: int, sha256: str) -> None:
        for _ in self.read_verified(key, size, sha256):
            pass

    def read_head(self, key: str, limit: int) -> bytes:
        with self.fs.open(self.path(key), "rb") as f:
            data: bytes = f.read(limit)
            return data

    def size(self, key: str) -> int:
        return int(self.fs.size(self.path(key)))

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def list_files(self, prefix: str) -> list[str]:
        """Keys of the files under ``prefix`` (none when it does not exist)."""
        base = self.path(prefix)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        root = self.root.lstrip("/") if not self.is_local else self.root
        out = []
        for p in found:
            p = p if self.is_local else p.lstrip("/")
            out.append(p[len(root) + 1 :])
        return sorted(out)

    def seal(self, prefix: str) -> None:
        """Make a committed version's folders read-only too (local store), so that a
        job's user cannot remove or add files where its view's links lead."""
        if not self.is_local:
            return
        for folder, _dirs, _files in os.walk(self.path(prefix), topdown=False):
            os.chmod(folder, 0o555)

    def delete_tree(self, prefix: str) -> None:
        path = self.path(prefix)
        if self.is_local:
            _make_writable(path)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)


class ChunkWriter:
    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _LocalChunk(ChunkWriter):
    """Pieces written straight into the staged file at their place."""

    def __init__(self, path: str, offset: int) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        self._at = offset

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(self._fd, view, self._at)
            self._at += n
            view = view[n:]

    def close(self) -> None:
        try:
            os.ftruncate(self._fd, self._at)  # drop what a longer earlier try left
        finally:
            os.close(self._fd)


class _ObjectChunk(ChunkWriter):
    """An object store cannot write at an offset: the chunk becomes one object."""

    def __init__(self, fs: Any, path: str) -> None:
        self._fs, self._path, self._parts = fs, path, []  # type: ignore[var-annotated]

    def write(self, data: bytes) -> None:
        self._parts.append(bytes(data))

    def close(self) -> None:
        self._fs.pipe_file(self._path, b"".join(self._parts))


def storage_from_url(url: str, **options: Any) -> Storage:
    """``file:///abs/dir`` or a plain path (local), or ``s3://bucket/prefix`` (options such
    as ``endpoint_url``, ``key``, ``secret`` go to s3fs)."""
    fs, root = fsspec.core.url_to_fs(url, **options)
    if isinstance(fs, LocalFileSystem):
        os.makedirs(root, exist_ok=True)
    return Storage(fs, root, url)


def _hash_local(path: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            while data := f.read(READ_CHUNK):
                h.update(data)
                size += len(data)
    except FileNotFoundError:
        pass
    return size, h.hexdigest()


def _make_writable(path: str) -> None:
    # Committed files are read-only (and so their folders' entries stay deletable).
    if os.path.isfile(path):
        os.chmod(os.path.dirname(path), 0o755)
        os.chmod(path, 0o644)
        return
    for folder, _dirs, files in os.walk(path):
        os.chmod(folder, 0o755)  # sealed versions' folders (``seal``)
        for f in files:
            os.chmod(os.path.join(folder, f), 0o644)


def _mismatch(key: str, size: int, sha: str, got_size: int, got: str) -> str:
    if got_size != size:
        return f"{key}: {got_size} bytes where the manifest says {size}"
    return f"{key}: SHA-256 {got[:12]}... where the manifest says {sha[:12]}..."
