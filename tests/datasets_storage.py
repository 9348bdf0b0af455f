"""Dataset storage for tests: a local folder, or a bucket on moto's S3 server.

No real object store can be installed here, so the S3 backend is tested against moto in
server mode (``moto_server``, a real HTTP S3 API on loopback, in its own process): s3fs
talks to it exactly as it would to MinIO or AWS.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aidc.storage import Storage, storage_from_url

KINDS = ["local", "s3"]
S3_KEY = S3_SECRET = "testing"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", S3_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    proc, endpoint = start_moto()
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)


def s3_storage(endpoint: str) -> Storage:
    import s3fs

    bucket = f"aidc-{secrets.token_hex(4)}"
    fs = s3fs.S3FileSystem(
        key=S3_KEY,
        secret=S3_SECRET,
        client_kwargs={"endpoint_url": endpoint},
        use_listings_cache=False,
        skip_instance_cache=True,
    )
    fs.mkdir(bucket)
    return Storage(fs, f"{bucket}/datasets", f"s3://{bucket}/datasets")


@pytest.fixture(params=KINDS)
def ds_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return storage_from_url(str(tmp_path / "store"))
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return s3_storage(endpoint)
