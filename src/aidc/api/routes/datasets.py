"""/v1/datasets: the catalog, resumable uploads, and reads of public and registered data
(restricted data answers 403 on every path that would return its bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from aidc.api.chunk_sink import ChunkSink
from aidc.api.deps import CenterDep, PrincipalDep
from aidc.api.read_ahead import read_ahead
from aidc.schemas import ErrorBody
from aidc.schemas_datasets import (
    CommitBody,
    DatasetCreate,
    DatasetView,
    ManifestView,
    PreviewView,
    UploadCreate,
    UploadFileView,
    UploadView,
)
from aidc.services import (
    datasets,
    datasets_preview,
    datasets_read,
    datasets_upload,
)
from aidc.services.datasets_place import place
from aidc.services.errors import Conflict, Invalid
from aidc.storage import Corrupt

router = APIRouter(tags=["datasets"])
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422)
}
OCTETS: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def version_number(text: str) -> int | None:
    if text == "latest":
        return None
    # ASCII digits only: str.isdigit() is also true of '²', which int() refuses.
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise Invalid("a version is a number (1, 2, ...) or 'latest'", field="version")
    return int(text)


@router.post("/v1/datasets", status_code=201, responses=ERRORS)
def create(body: DatasetCreate, c: CenterDep, p: PrincipalDep) -> DatasetView:
    """A new dataset (no data yet; upload versions)."""
    return datasets.create_dataset(c, p, body)


@router.get("/v1/datasets", responses=ERRORS)
def search(
    c: CenterDep,
    p: PrincipalDep,
    q: str | None = None,
    sector: str | None = None,
    tag: str | None = None,
    tier: str | None = None,
) -> list[DatasetView]:
    """The catalog: every dataset's card (metadata is open; bytes follow the tier)."""
    return datasets.search(c, p, text=q, sector=sector, tag=tag, tier=tier)


@router.get("/v1/datasets/{name}", responses=ERRORS)
def show(name: str, c: CenterDep, p: PrincipalDep) -> DatasetView:
    return datasets.show(c, p, name)


@router.post("/v1/datasets/{name}/uploads", status_code=201, responses=ERRORS)
def start_upload(name: str, body: UploadCreate, c: CenterDep, p: PrincipalDep) -> UploadView:
    """Declare a new version's files (path, size, SHA-256); checked against the quota."""
    return datasets_upload.start_upload(c, p, name, body)


@router.get("/v1/datasets/{name}/uploads/{upload_id}", responses=ERRORS)
def show_upload(name: str, upload_id: str, c: CenterDep, p: PrincipalDep) -> UploadView:
    """How much of each file has arrived (to resume)."""
    return datasets_upload.show_upload(c, p, name, upload_id)


@router.put(
    "/v1/datasets/{name}/uploads/{upload_id}/files/{idx}",
    responses=ERRORS,
    openapi_extra=OCTETS,
)
async def put_chunk(
    name: str,
    upload_id: str,
    idx: int,
    offset: int,
    request: Request,
    c: CenterDep,
    p: PrincipalDep,
) -> UploadFileView:
    """Bytes of file ``idx`` from ``offset`` (which must be what has arrived so far). The
    chunk is checked (offset, declared size, quota) from its Content-Length before any
    byte is read, then written as it arrives."""
    try:
        length = int(request.headers["content-length"])
    except (KeyError, ValueError):
        raise Invalid("send the chunk with a Content-Length", field="chunk") from None
    t = await run_in_threadpool(
        datasets_upload.begin_chunk, c, p, name, upload_id, idx, offset, length
    )
    hasher = datasets_upload.running_hash(t)
    sink = ChunkSink(place(c).storage.chunk_writer(t.key, offset), hasher)
    got = 0
    try:
        async for piece in request.stream():
            got += len(piece)
            if got > length:
                raise Invalid("the chunk is longer than its Content-Length", field="chunk")
            await sink.add(piece)
    except BaseException:
        await sink.abandon()
        raise
    await sink.close()
    if got != length:
        raise Invalid("the chunk is shorter than its Content-Length", field="chunk")
    return await run_in_threadpool(datasets_upload.end_chunk, c, t, hasher)


@router.post("/v1/datasets/{name}/uploads/{upload_id}/commit", responses=ERRORS)
def commit(
    name: str, upload_id: str, c: CenterDep, p: PrincipalDep, body: CommitBody | None = None
) -> UploadView:
    """Verify every file's checksum and make the version immutable (SHA-256 of files
    declared without one in the body)."""
    return datasets_upload.commit(c, p, name, upload_id, body.files if body else None)


@router.delete("/v1/datasets/{name}/uploads/{upload_id}", responses=ERRORS)
def abort(name: str, upload_id: str, c: CenterDep, p: PrincipalDep) -> UploadView:
    return datasets_upload.abort(c, p, name, upload_id)


@router.get("/v1/datasets/{name}/versions/{version}/manifest", responses=ERRORS)
def manifest(name: str, version: str, c: CenterDep, p: PrincipalDep) -> ManifestView:
    return datasets_read.manifest(c, p, name, version_number(version))


@router.get("/v1/datasets/{name}/versions/{version}/files/{path:path}", responses=ERRORS)
def download(
    name: str, version: str, path: str, c: CenterDep, p: PrincipalDep
) -> StreamingResponse:
    """One file's bytes, verified against its SHA-256 (also sent as X-Aidc-Sha256)."""
    try:
        meta, chunks = datasets_read.open_file(c, p, name, version_number(version), path)
    except Corrupt as e:
        raise Conflict(f"the stored file is corrupt: {e}", field="path") from None
    headers = {
        "Content-Length": str(meta.size),
        "X-Aidc-Sha256": meta.sha256,
        "Content-Disposition": "attachment; filename*=UTF-8''"
        + quote(meta.path.rsplit("/", 1)[-1]),
    }
    return StreamingResponse(
        read_ahead(chunks), media_type="application/octet-stream", headers=headers
    )


@router.get("/v1/datasets/{name}/versions/{version}/archive", responses=ERRORS)
def archive(name: str, version: str, c: CenterDep, p: PrincipalDep) -> StreamingResponse:
    """The whole version as a tar stream."""
    chunks: Iterator[bytes] = datasets_read.archive(c, p, name, version_number(version))
    headers = {"Content-Disposition": f'attachment; filename="{name}-{version}.tar"'}
    return StreamingResponse(chunks, media_type="application/x-tar", headers=headers)


@router.get("/v1/datasets/{name}/versions/{version}/preview", responses=ERRORS)
def preview(
    name: str, version: str, path: str, c: CenterDep, p: PrincipalDep, rows: int = 10
) -> PreviewView:
    """First rows of a CSV/Parquet file or an image's thumbnail (not for restricted data)."""
    return datasets_preview.preview(c, p, name, version_number(version), path, rows)
