"""Datasets benchmark: upload and download of one large file through aidc against a plain
fsspec copy of the same file, in the same run.

    .venv/bin/python benchmarks/datasets.py                  # 2 GB, 64 MiB chunks
    .venv/bin/python benchmarks/datasets.py --size-gb 0.5 --repeats 3
    .venv/bin/python benchmarks/datasets.py --backend s3 --size-gb 0.5   # moto's S3 server

aidc: a real `aidc server` (SQLite, 2 API workers, local dataset storage under its home)
and the real CLI: `aidc dataset upload bench DIR` (declare, send in chunks while hashing,
commit; the server hashes chunks as they arrive and renames the staged file), then
`aidc dataset download bench@N big.bin -o FILE` (the server verifies the SHA-256 as it
streams, the client checks it again). Plain: fsspec's local filesystem `put_file` into a
folder of the same disk and `get_file` back. Throughput = bytes / wall seconds. Neither
side fsyncs; the source file is in the page cache for both (written just before).

With ``--backend s3`` the server's dataset store is a bucket on moto's S3 server (as in
the tests: a real S3 HTTP API on loopback, keeping objects in memory), and the plain copy
is s3fs's ``put_file`` / ``get_file`` to and from that same server.

Progress goes to stderr, one JSON object to stdout. Target: aidc >= 80 % of plain for
upload and for download; reported pass/fail, exit status 0 either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import fsspec

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.server_process import AIDC, ServerProcess  # noqa: E402

from machine import cpu_model  # noqa: E402

TARGET = 0.8
BLOCK = 16 * 1024 * 1024
S3_KEY = "bench"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_file(path: Path, size: int) -> None:
    block = os.urandom(BLOCK)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, BLOCK)])
            left -= BLOCK


def sha256_pass(path: Path) -> None:
    """Read the file once and hash it: the least a copy verified with SHA-256 must do."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(BLOCK):
            h.update(data)


def timed(fn: Any, *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def cli(server: ServerProcess, *args: str) -> None:
    env = {**os.environ, "AIDC_URL": server.url, "AIDC_TOKEN": server.tokens["admin"],
           "AIDC_CONFIG": str(server.home / "bench-config.toml")}  # fmt: skip
    r = subprocess.run([*AIDC, *args], env=env, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"aidc {' '.join(args)} failed: {r.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-gb", type=float, default=2.0, help="File size in GB (10^9 bytes).")
    ap.add_argument("--chunk-mb", type=int, default=64, help="Upload chunk size in MiB.")
    ap.add_argument("--backend", choices=("local", "s3"), default="local", help="Dataset store.")
    ap.add_argument("--repeats", type=int, default=2, help="Runs of each; the best counts.")
    ap.add_argument("--dir", type=Path, default=None, help="Work folder (default a temp dir).")
    args = ap.parse_args()
    size = int(args.size_gb * 10**9)
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="aidc-bench-ds-", dir=args.dir))
    # As root, jobs run as other users (isolation): the home's parent must be passable.
    os.chmod(base, 0o711)
    src_dir = base / "src"
    src_dir.mkdir()
    src = src_dir / "big.bin"
    log(f"writing {size:,} bytes to {src}")
    make_file(src, size)
    moto = None
    env: dict[str, str] = {}
    fs = fsspec.filesystem("file")
    plain_dir = base / "plain"
    if args.backend == "s3":
        moto, fs = s3(env)
        plain_dir = Path("bench-plain")  # a bucket on the same server
        fs.mkdir(str(plain_dir))
    server = ServerProcess(base / "home", f"sqlite:///{base / 'aidc.db'}", env=env)
    server.start(timeout=180)  # a loaded machine starts it slowly
    runs: dict[str, list[float]] = {
        k: [] for k in ("plain_up", "plain_down", "aidc_up", "aidc_down", "sha256_pass")
    }
    try:
        cli(server, "dataset", "create", "bench", "--sector", "other", "--tier", "public")
        for i in range(args.repeats):
            plain = plain_dir / "big.bin"
            if args.backend == "local":
                plain.parent.mkdir(exist_ok=True)
            back = base / "plain-back.bin"
            runs["plain_up"].append(timed(fs.put_file, str(src), str(plain)))
            runs["plain_down"].append(timed(fs.get_file, str(plain), str(back)))
            fs.rm_file(str(plain))
            back.unlink()
            runs["sha256_pass"].append(timed(sha256_pass, src))
            up_args = ("dataset", "upload", "bench", str(src_dir), "--chunk-mb", str(args.chunk_mb))
            runs["aidc_up"].append(timed(cli, server, *up_args))
            out = base / "aidc-back.bin"
            down_args = ("dataset", "download", f"bench@{i + 1}", "big.bin", "-o", str(out))
            runs["aidc_down"].append(timed(cli, server, *down_args))
            if out.stat().st_size != size:
                raise RuntimeError("the download is not the file's size")
            out.unlink()
            log(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()))
    finally:
        server.stop()
        if moto is not None:
            moto.terminate()
    best = {k: min(v) for k, v in runs.items()}
    mbps = {k: size / v / 1e6 for k, v in best.items()}
    ratio_up = mbps["aidc_up"] / mbps["plain_up"]
    ratio_down = mbps["aidc_down"] / mbps["plain_down"]
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
        },
        "backend": args.backend,
        "commit": _commit(),
        "size_bytes": size,
        "chunk_mib": args.chunk_mb,
        "seconds": runs,
        "best_mb_per_s": {k: round(v, 1) for k, v in mbps.items()},
        "upload_ratio": round(ratio_up, 3),
        # The best ratio any upload that hashes the file once could reach against plain.
        "upload_ratio_ceiling_one_sha256": round(best["plain_up"] / best["sha256_pass"], 3),
        "download_ratio": round(ratio_down, 3),
        "target": TARGET,
        "pass": {"upload": ratio_up >= TARGET, "download": ratio_down >= TARGET},
    }
    print(json.dumps(result, indent=2))
    subprocess.run(["rm", "-rf", str(base)], check=False)  # the store's files are read-only


def s3(env: dict[str, str]) -> tuple[Any, Any]:
    """moto's S3 server (its process) and s3fs on it; the server's settings in ``env``."""
    import s3fs
    from tests.datasets_storage import start_moto

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[k] = S3_KEY
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    proc, endpoint = start_moto()
    fs = s3fs.S3FileSystem(key=S3_KEY, secret=S3_KEY, client_kwargs={"endpoint_url": endpoint})
    fs.mkdir("bench-aidc")
    env.update(AIDC_DATASETS_URL="s3://bench-aidc/datasets", AIDC_DATASETS_S3_ENDPOINT=endpoint)
    return proc, fs


def _commit() -> str:
    r = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)  # fmt: skip
    return r.stdout.strip()


if __name__ == "__main__":
    main()
