"""Previews of public and registered datasets: the first rows of a CSV or Parquet file,
a thumbnail of an image. Restricted datasets have none (403, audited, like any read)."""

from __future__ import annotations

import base64
import csv
import importlib.util
import io

from aidc.core.tenancy import Principal
from aidc.schemas_datasets import PreviewView
from aidc.services.center import Center
from aidc.services.datasets_place import place
from aidc.services.datasets_read import head_bytes
from aidc.services.datasets_upload import final_key
from aidc.services.errors import Invalid

HEAD_BYTES = 256 * 1024
MAX_ROWS = 50
MAX_IMAGE_BYTES = 20 * 1024 * 1024
THUMBNAIL_PX = 128
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")


def preview(
    center: Center, p: Principal, name: str, version: int | None, path: str, rows: int = 10
) -> PreviewView:
    rows = max(1, min(rows, MAX_ROWS))
    lower = path.lower()
    if lower.endswith((".csv", ".tsv")):
        v, _, head = head_bytes(center, p, name, version, path, HEAD_BYTES)
        columns, body = _csv_rows(head, "\t" if lower.endswith(".tsv") else ",", rows)
        return PreviewView(
            dataset=name, version=v, path=path, kind="csv", columns=columns, rows=body
        )
    if lower.endswith(".parquet"):
        if importlib.util.find_spec("pyarrow") is None:
            raise Invalid("Parquet previews need pyarrow on the server", field="path")
        v, f, _ = head_bytes(center, p, name, version, path, 0)
        columns, body = _parquet_rows(center, final_key(name, v, f.path), rows)
        return PreviewView(
            dataset=name, version=v, path=path, kind="parquet", columns=columns, rows=body
        )
    if lower.endswith(IMAGE_SUFFIXES):
        v, _, data = head_bytes(center, p, name, version, path, MAX_IMAGE_BYTES)
        return PreviewView(
            dataset=name, version=v, path=path, kind="image", thumbnail_png_base64=_thumb(data)
        )
    raise Invalid("previews are of .csv, .tsv, .parquet and image files", field="path")


def _csv_rows(head: bytes, delimiter: str, rows: int) -> tuple[list[str], list[list[str]]]:
    text = head.decode("utf-8", errors="replace")
    if len(head) == HEAD_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]  # drop a row cut by the read limit
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    columns = next(reader, [])
    body: list[list[str]] = []
    for row in reader:
        if len(body) >= rows:
            break
        body.append(row)
    return columns, body


def _parquet_rows(center: Center, key: str, rows: int) -> tuple[list[str], list[list[str]]]:
    import pyarrow.parquet as pq

    storage = place(center).storage
    with storage.fs.open(storage.path(key), "rb") as f:
        pf = pq.ParquetFile(f)
        batch = next(pf.iter_batches(batch_size=rows), None)
        columns = list(pf.schema_arrow.names)
    if batch is None:
        return columns, []
    data = batch.to_pydict()
    return columns, [[str(data[c][i]) for c in columns] for i in range(batch.num_rows)]


def _thumb(data: bytes) -> str:
    try:
        from PIL import Image
    except ImportError:
        raise Invalid("image previews need Pillow on the server", field="path") from None
    try:
        img = Image.open(io.BytesIO(data))
        img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        out = io.BytesIO()
        img.convert("RGB").save(out, format="PNG")
    except Exception:
        raise Invalid("the file is not an image Pillow can read", field="path") from None
    return base64.b64encode(out.getvalue()).decode()
