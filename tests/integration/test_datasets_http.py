"""A file bigger than the server verifies before it answers, through the HTTP routes:
uploaded in chunks that the server writes and hashes in batches as they arrive, read back
with the next piece read ahead, and cut when the stored bytes no longer match."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aidc.api.app import create_app
from aidc.services import auth
from aidc.services.center import Center
from aidc.services.datasets_place import place
from aidc.services.datasets_read import VERIFY_FIRST_BYTES
from aidc.settings import Settings
from aidc.storage import Corrupt
from tests.integration.datasets_env import DataTenants, make_dataset

CHUNK = 64 * 1024 * 1024


@pytest.fixture
def http(dc: Center, people: DataTenants, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=tmp_path / "api"))
    app.state.center = dc  # no lifespan: the test's center, not one from settings
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {auth.issue_token(dc, 'root')}"
    yield client


def test_a_large_file_goes_up_and_down_verified_and_a_corrupt_one_is_cut(
    dc: Center, people: DataTenants, http: TestClient
) -> None:
    data = os.urandom(VERIFY_FIRST_BYTES + 3 * 1024 * 1024)
    sha = hashlib.sha256(data).hexdigest()
    make_dataset(dc, people.t.root, "big", "public")  # the center's: no quota
    r = http.post(
        "/v1/datasets/big/uploads", json={"files": [{"path": "f.bin", "size": len(data)}]}
    )
    assert r.status_code == 201, r.text
    up = r.json()["upload_id"]
    for off in range(0, len(data), CHUNK):
        part = data[off : off + CHUNK]
        r = http.put(f"/v1/datasets/big/uploads/{up}/files/0", params={"offset": off}, content=part)
        assert r.status_code == 200 and r.json()["received"] == off + len(part), r.text
    r = http.post(
        f"/v1/datasets/big/uploads/{up}/commit", json={"files": [{"idx": 0, "sha256": sha}]}
    )
    assert r.status_code == 200 and r.json()["state"] == "ready", r.text

    with http.stream("GET", "/v1/datasets/big/versions/1/files/f.bin") as down:
        assert down.status_code == 200 and down.headers["x-aidc-sha256"] == sha
        assert b"".join(down.iter_raw()) == data

    st = place(dc).storage
    st.delete_tree("data/big/1/f.bin")  # the same size, one byte changed
    st.put_bytes("data/big/1/f.bin", data[:-1] + bytes([data[-1] ^ 1]))
    with (
        pytest.raises(Corrupt),
        http.stream("GET", "/v1/datasets/big/versions/1/files/f.bin") as down,
    ):
        b"".join(down.iter_raw())
