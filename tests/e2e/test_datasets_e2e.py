"""Datasets through the real server and CLI: the demo's samples, a resumed upload, every
HTTP path to restricted bytes refused (403 + audit row), and a granted job whose outputs
wait in the airlock until the steward releases them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from aidc.cli.dataset_upload import state_file
from aidc.client import Client
from tests.datasets_storage import KINDS, s3_storage
from tests.server_process import ServerProcess

EHR = "ehr-synthetic"


@pytest.fixture(params=KINDS)
def server(
    request: pytest.FixtureRequest,
    start_server: Callable[..., ServerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> ServerProcess:
    """(Overrides the e2e ``server``.) The demo server with its datasets in a local folder,
    or in a bucket of moto's S3 server (the server process reads AIDC_DATASETS_URL from
    the environment it inherits)."""
    if request.param == "s3":
        endpoint: str = request.getfixturevalue("s3_endpoint")
        bucket = s3_storage(endpoint).root.split("/")[0]
        monkeypatch.setenv("AIDC_DATASETS_URL", f"s3://{bucket}/datasets")
        monkeypatch.setenv("AIDC_DATASETS_S3_ENDPOINT", endpoint)
    return start_server()


def http(server: ServerProcess, user: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.tokens[user]}"}
    )


def audit_rows(server: ServerProcess, **filters: str) -> list[dict[str, object]]:
    args = [x for k, v in filters.items() for x in (f"--{k}", v)]
    r = server.cli("audit", *args, "--json", user="steward")
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def test_samples_search_preview_and_download(server: ServerProcess, tmp_path: Path) -> None:
    r = server.cli("dataset", "search", "--tier", "public", "--json")
    names = {d["name"] for d in json.loads(r.stdout)}
    assert {"traffic-seoul", "press-line-sensors", "gwangju-bus-stops"} <= names
    r = server.cli("dataset", "search", "--sector", "healthcare", "--json")
    assert [(d["name"], d["tier"]) for d in json.loads(r.stdout)] == [(EHR, "restricted")]
    r = server.cli("dataset", "preview", "traffic-seoul", "counts.csv", "--rows", "3")
    assert r.returncode == 0 and "speed_kmh" in r.stdout, r.stderr
    r = server.cli("dataset", "preview", "traffic-seoul@1", "frames/cam-01.png",
                   "--thumbnail", str(tmp_path / "t.png"))  # fmt: skip
    assert r.returncode == 0 and (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG", r.stderr
    out = tmp_path / "stops.csv"
    r = server.cli("dataset", "download", "gwangju-bus-stops", "stops.csv", "-o", str(out))
    assert r.returncode == 0 and out.read_text().startswith("stop_id,lat,lon"), r.stderr
    # Registered data: Daehan Motors has no active allocation, so not for hyunwoo.
    r = server.cli("dataset", "download", "grid-load-jeonnam", "load.csv", user="hyunwoo")
    assert r.returncode == 2 and "registered" in r.stderr


def test_every_http_path_to_restricted_bytes_answers_403_and_is_audited(
    server: ServerProcess,
) -> None:
    paths = [
        f"/v1/datasets/{EHR}/versions/1/files/admissions.csv",
        f"/v1/datasets/{EHR}/versions/latest/files/admissions.csv",
        f"/v1/datasets/{EHR}/versions/7/files/guessed.csv",
        f"/v1/datasets/{EHR}/versions/1/archive",
        f"/v1/datasets/{EHR}/versions/1/preview?path=admissions.csv",
        f"/v1/datasets/{EHR}/versions/1/manifest",
        "/v1/airlock/00112233aabbccdd/files/out.csv",
    ]
    for user in ("minji", "admin"):
        with http(server, user) as h:
            for path in paths:
                if user == "admin" and path.endswith("manifest"):
                    continue  # operators may list a restricted version's files, not read them
                before = len(_refusals(server, user))
                r = h.get(path)
                assert r.status_code == 403, (user, path, r.text)
                assert r.json()["error"] == "forbidden"
                assert len(_refusals(server, user)) == before + 1, path
    r = server.cli("dataset", "export", EHR, "-o", "/tmp/never.tar")
    assert r.returncode == 2 and "restricted" in r.stderr


def _refusals(server: ServerProcess, user: str) -> list[dict[str, object]]:
    r = server.cli("audit", "--actor", user, "--refused", "--json", user="steward")
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def test_an_interrupted_cli_upload_resumes(server: ServerProcess, tmp_path: Path) -> None:
    r = server.cli("dataset", "create", "hanbit-frames", "--owner", "Hanbit Vision",
                   "--sector", "automotive", "--tier", "registered", "--tag", "frames")  # fmt: skip
    assert r.returncode == 0, r.stderr
    with http(server, "minji") as h:  # refused before any byte: names, then the quota
        bad = h.post("/v1/datasets/hanbit-frames/uploads",
                     json={"files": [{"path": "../../etc/x", "size": 1}]})  # fmt: skip
        assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "files.0.path"
        big = h.post("/v1/datasets/hanbit-frames/uploads",
                     json={"files": [{"path": "huge.bin", "size": 10**13}]})  # fmt: skip
        assert big.status_code == 422 and "quota" in big.json()["message"], big.text
    folder = tmp_path / "frames"
    (folder / "sub").mkdir(parents=True)
    big = bytes(range(256)) * 8192  # 2 MiB
    (folder / "sub" / "big.bin").write_bytes(big)
    (folder / "a.txt").write_text("hello")
    # A first run that got as far as 1 MiB of big.bin, then died.
    with Client(server.url, token=server.tokens["minji"]) as c:
        files = [
            {"path": p, "size": (folder / p).stat().st_size,
             "mtime_ns": (folder / p).stat().st_mtime_ns,
             "sha256": hashlib.sha256((folder / p).read_bytes()).hexdigest()}
            for p in ("a.txt", "sub/big.bin")
        ]  # fmt: skip
        up = c.start_upload("hanbit-frames", [{k: f[k] for k in ("path", "size", "sha256")}
                                              for f in files])  # fmt: skip
        c.put_chunk("hanbit-frames", up.upload_id, 1, 0, big[: 1 << 20])
    sf = state_file(Client(server.url, token="x"), "hanbit-frames", folder)
    sf = server.home / "uploads" / sf.name  # the CLI's config lives in the server's home
    sf.parent.mkdir(parents=True, exist_ok=True)
    sf.write_text(json.dumps({"upload_id": up.upload_id, "files": files}))
    r = server.cli("dataset", "upload", "hanbit-frames", str(folder), "--chunk-mb", "1")
    assert r.returncode == 0, r.stderr
    assert "resuming upload of hanbit-frames version 1" in r.stderr
    assert "2 files" in r.stdout and "ready" in r.stdout
    assert not sf.exists()
    got = tmp_path / "big.bin"
    r = server.cli("dataset", "download", "hanbit-frames@1", "sub/big.bin", "-o", str(got))
    assert r.returncode == 0 and got.read_bytes() == big, r.stderr
    r = server.cli("dataset", "files", "hanbit-frames", "--json")
    assert {f["path"]: f["size"] for f in json.loads(r.stdout)["files"]} == {
        "a.txt": 5, "sub/big.bin": len(big)}  # fmt: skip
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x").symlink_to("/etc/passwd")
    r = server.cli("dataset", "upload", "hanbit-frames", str(bad))
    assert r.returncode == 2 and "regular files" in r.stderr


def test_a_granted_job_reads_restricted_data_and_its_outputs_are_held(
    server: ServerProcess, tmp_path: Path
) -> None:
    script = tmp_path / "job.sh"
    script.write_text('wc -l < "$AIDC_DATASET_EHR_SYNTHETIC/admissions.csv" '
                      '> "$AIDC_OUTPUT_DIR/count.txt"\n')  # fmt: skip
    submit = ("submit", "-p", "hanbit-vision", "--dataset", f"{EHR}:/data", "--script",
              str(script))  # fmt: skip
    r = server.cli(*submit)
    assert r.returncode == 2 and "grant" in r.stderr, r.stderr
    r = server.cli("dataset", "grant", "request", EHR, "-p", "hanbit-vision",
                   "--purpose", "sepsis early warning", "--days", "30")  # fmt: skip
    assert r.returncode == 0, r.stderr
    gid = r.stdout.split()[1]
    r = server.cli("dataset", "grant", "approve", gid)  # minji is no steward
    assert r.returncode == 2
    r = server.cli("dataset", "grant", "approve", gid, user="steward")
    assert r.returncode == 0 and "approved" in r.stdout, r.stderr
    r = server.cli(*submit, "--wait", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    job_id = json.loads(r.stdout)["id"]
    deadline = time.monotonic() + 30
    while True:
        r = server.cli("dataset", "airlock", "show", job_id, "--json")
        if r.returncode == 0:
            break
        assert time.monotonic() < deadline, r.stderr
        time.sleep(0.2)
    held = json.loads(r.stdout)
    assert held["state"] == "held" and [f["path"] for f in held["files"]] == ["count.txt"]
    r = server.cli("dataset", "airlock", "download", job_id, "count.txt")
    assert r.returncode == 2 and "held" in r.stderr
    r = server.cli("dataset", "airlock", "release", job_id, "--reason", "a count", user="steward")
    assert r.returncode == 0, r.stderr
    r = server.cli("dataset", "airlock", "download", job_id, "count.txt")
    assert r.returncode == 0 and r.stdout.strip() == "501", (r.stdout, r.stderr)
    actions = {row["action"] for row in audit_rows(server, dataset=EHR)}
    assert {"submit", "grant-request", "grant-approve", "mount", "airlock-capture",
            "release", "output-download"} <= actions  # fmt: skip
    r = server.cli("audit", "--dataset", EHR, "--csv", user="steward")
    assert r.stdout.startswith("at,actor,action,outcome,dataset")
