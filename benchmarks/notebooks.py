"""Notebook benchmark: start-to-ready of a JupyterLab session through aidc on the local
engine, against a bare JupyterLab started by hand on the same machine in the same run.

    .venv/bin/python benchmarks/notebooks.py [--runs 5]

aidc: a real `aidc server --demo` (SQLite, 4 virtual a100s); each run POSTs
/v1/notebooks for one a100 and polls GET /v1/notebooks/<id> every 50 ms until the
session is ready (queued -> placed -> launched -> JupyterLab answers through its engine's
address), then checks that /sessions/<id>/api/status answers through the proxy, stops the
session and waits for its GPU to be free. The environment is the server's own JupyterLab
(installed, so "cached"). Baseline: `python -m jupyterlab` with the same options, fresh
private Jupyter folders and a token, timed from Popen until /api/status answers. The
two alternate run by run, so that both see the same load.

Progress goes to stderr; one JSON object to stdout. Target: median start-to-ready <= 5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.server_process import ServerProcess  # noqa: E402

from aidc.client import Client  # noqa: E402
from loadgen import log  # noqa: E402
from machine import cpu_model  # noqa: E402

TARGET_S = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bare_jupyterlab(folder: Path) -> float:
    """Seconds from Popen to /api/status answering, for JupyterLab started by hand."""
    folder.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_urlsafe(32)
    env = dict(os.environ, JUPYTER_TOKEN=token)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(folder / name.lower())
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.base_url=/bench/",
        f"--ServerApp.root_dir={folder}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/bench/api/status"
        while True:
            try:
                r = httpx.get(url, headers={"Authorization": f"token {token}"}, timeout=1)
                if r.status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("jupyterlab exited before answering")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def through_aidc(server: ServerProcess) -> dict[str, float]:
    token = server.tokens["minji"]
    with Client(server.url, token) as c:
        t0 = time.perf_counter()
        nb = c.start_notebook(project="hanbit-vision", accelerators=1, accelerator_type="a100")
        while nb.state == "starting":
            time.sleep(0.05)
            nb = c.notebook(nb.id)
        ready = time.perf_counter() - t0
        if nb.state != "ready":
            raise RuntimeError(f"session {nb.id} {nb.state}: {nb.message}")
        r = httpx.get(
            f"{server.url}/sessions/{nb.id}/api/status",
            headers={"Authorization": f"Bearer {token}"},
        )
        through_proxy = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        c.stop_notebook(nb.id)
        while c.job(nb.job_id).state not in ("CANCELLED", "SUCCEEDED", "FAILED"):
            time.sleep(0.05)
    return {"ready_s": round(ready, 3), "proxy_answers_s": round(through_proxy, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aidc-bench-nb-") as tmp:
        root = Path(tmp)
        # As root, jobs run as other users (isolation): the home's parent must be passable.
        os.chmod(root, 0o711)
        baseline, runs = [], []
        server = ServerProcess(root / "home", f"sqlite:///{root / 'aidc.db'}").start()
        try:
            # Alternating, so that both see the same load on a shared machine.
            for i in range(args.runs):
                baseline.append(round(bare_jupyterlab(root / f"bare-{i}"), 3))
                runs.append(through_aidc(server))
                log(
                    f"run {i + 1}/{args.runs}: bare jupyterlab {baseline[-1]:.2f}s, "
                    f"aidc session ready in {runs[-1]['ready_s']:.2f}s"
                )
        finally:
            server.stop()
    ready = [r["ready_s"] for r in runs]
    median = statistics.median(ready)
    result = {
        "benchmark": "notebooks",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "runs": args.runs,
        "bare_jupyterlab_to_status_s": baseline,
        "aidc_start_to_ready": runs,
        "median_bare_s": statistics.median(baseline),
        "median_aidc_ready_s": median,
        "median_overhead_s": round(median - statistics.median(baseline), 3),
        "target": {"median_aidc_ready_s": f"<= {TARGET_S}", "pass": median <= TARGET_S},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
