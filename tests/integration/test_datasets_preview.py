"""Previews: first rows of CSV and Parquet, image thumbnails; public and registered only."""

from __future__ import annotations

import base64
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aidc.services import datasets_preview
from aidc.services.center import Center
from aidc.services.demo_datasets import _png
from aidc.services.errors import Forbidden, Invalid
from tests.integration.datasets_env import DataTenants, make_dataset, upload


def parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"road": ["a", "b", "c"], "speed": [10.5, 20.0, 30.25]}), buf)
    return buf.getvalue()


def test_csv_parquet_and_image_previews(dc: Center, people: DataTenants) -> None:
    import random

    make_dataset(dc, people.t.root, "open", "public")
    upload(dc, people.t.root, "open", {
        "t.csv": b"x,y\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(100)),
        "t.parquet": parquet_bytes(),
        "img.png": _png(random.Random(1), size=256),
        "notes.txt": b"hi",
    })  # fmt: skip
    csv = datasets_preview.preview(dc, people.t.carol, "open", None, "t.csv", rows=3)
    assert (csv.columns, csv.rows) == (["x", "y"], [["0", "0"], ["1", "1"], ["2", "4"]])
    pqv = datasets_preview.preview(dc, people.t.carol, "open", 1, "t.parquet", rows=2)
    assert (pqv.kind, pqv.columns, pqv.rows) == ("parquet", ["road", "speed"],
                                                  [["a", "10.5"], ["b", "20.0"]])  # fmt: skip
    img = datasets_preview.preview(dc, people.t.carol, "open", 1, "img.png")
    from PIL import Image

    thumb = Image.open(io.BytesIO(base64.b64decode(img.thumbnail_png_base64)))
    assert max(thumb.size) == 128
    with pytest.raises(Invalid):
        datasets_preview.preview(dc, people.t.carol, "open", 1, "notes.txt")
    make_dataset(dc, people.t.root, "reg", "registered")
    upload(dc, people.t.root, "reg", {"t.csv": b"a\n1\n"})
    assert datasets_preview.preview(dc, people.t.bob, "reg", 1, "t.csv").rows == [["1"]]
    with pytest.raises(Forbidden):  # Beta is not approved
        datasets_preview.preview(dc, people.t.carol, "reg", 1, "t.csv")
