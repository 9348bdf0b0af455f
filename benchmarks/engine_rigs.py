"""The engines benchmarks/engines.py drives: each one's inventory for `aidc server`, and
for Slurm and Ray the same work sent straight to the engine (the outside baseline).

Every job, through aidc or not, appends ``<tag> <start ns> `` to one file when it starts
(tag from the BENCH_TAG variable), so submit-to-start is measured the same way for all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# The job every latency run submits: record the start, nothing else.
RECORD = 'echo "$BENCH_TAG $(date +%s%N)" >> "$BENCH_STARTS"'


@dataclass
class Submitted:
    tag: str
    submit_ns: int  # wall clock just before the submit call
    engine_id: str


def local_inventory(nodes: int, gpus: int, cpus: int = 32) -> str:
    """``nodes`` virtual nodes of ``gpus`` a100s on this host (the local engine)."""
    return (
        '[[pools]]\nname = "local"\nengine = "local"\n\n'
        f'[[nodes]]\nname = "v"\npool = "local"\ncpus = {cpus}\nmemory = "256G"\n'
        f'accelerator = "a100"\ncount = {gpus}\ncopies = {nodes}\n'
    )


def burst(
    n: int, submit_one: Callable[[int], Submitted], clients: int = 4
) -> tuple[list[Submitted], float]:
    """Submit ``n`` jobs from ``clients`` threads at once; the results and the wall time."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = list(pool.map(submit_one, range(n)))
    return done, time.perf_counter() - t0


def read_starts(path: Path) -> dict[str, int]:
    starts: dict[str, int] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                starts.setdefault(parts[0], int(parts[1]))
    return starts


def wait_starts(
    path: Path, tags: set[str], timeout: float, count: int | None = None
) -> dict[str, int]:
    """The start times of ``tags`` once ``count`` of them (default all) have started."""
    need = len(tags) if count is None else count
    deadline = time.monotonic() + timeout
    while True:
        starts = {t: ns for t, ns in read_starts(path).items() if t in tags}
        if len(starts) >= need:
            return starts
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(starts)} of {need} jobs started in {timeout:.0f}s")
        time.sleep(0.05)


# -- Slurm, straight through sbatch -------------------------------------------------------

SLURM_DEV = Path(__file__).resolve().parent.parent / "scripts" / "slurm-dev"


def slurm_dir() -> Path:
    return Path(os.environ.get("AIDC_SLURM_DIR", "/tmp/aidc-slurm"))


def slurm_up(nodes: int, gpus: int) -> dict[str, str]:
    """The dev cluster with ``nodes`` slurmd of ``gpus`` fake a100s (re-made if it has
    another size); the environment for Slurm's tools."""
    env = {**os.environ, "AIDC_SLURM_DIR": str(slurm_dir())}
    env["SLURM_CONF"] = str(slurm_dir() / "slurm.conf")
    if _slurm_nodes(env) != nodes:
        subprocess.run([str(SLURM_DEV), "down"], env=env, capture_output=True, check=False)
        up = [str(SLURM_DEV), "up", "--nodes", str(nodes), "--gpus", str(gpus)]
        subprocess.run(up, env=env, capture_output=True, check=True, timeout=300)
    # Baseline jobs are charged to an account of their own.
    for args in (["add", "account", "bench"], ["add", "user", "root", "account=bench"]):
        subprocess.run(["sacctmgr", "-i", *args], env=env, capture_output=True, check=False)
    return env


def _slurm_nodes(env: dict[str, str]) -> int:
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], env=env, capture_output=True, text=True)
    return len(set(out.stdout.split())) if out.returncode == 0 else 0


def slurm_inventory() -> str:
    return (
        '[[pools]]\nname = "hpc"\nengine = "slurm"\n\n'
        f'[engines.slurm]\nconf = "{slurm_dir() / "slurm.conf"}"\n'
    )


def sbatch(
    env: dict[str, str],
    starts: Path,
    tag: str,
    *,
    gpus: int,
    wrap: str,
    extra: tuple[str, ...] = ("--ntasks=1",),
) -> Submitted:
    args = ["sbatch", "--parsable", "--account=bench", "--output=/dev/null", "--mem=100"]
    args += [f"--export=ALL,BENCH_TAG={tag},BENCH_STARTS={starts}", *extra]
    if gpus:
        args.append(f"--gres=gpu:a100:{gpus}")
    t = time.time_ns()
    out = subprocess.run([*args, f"--wrap={wrap}"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"sbatch failed: {out.stderr.strip()}")
    return Submitted(tag, t, out.stdout.strip().split(";")[0])


def squeue_ids(env: dict[str, str], state: str | None = None) -> set[str]:
    args = ["squeue", "-h", "-o", "%i", "-A", "bench"]
    if state:
        args += ["-t", state]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def wait_slurm_empty(env: dict[str, str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while squeue_ids(env):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Slurm jobs still queued after {timeout:.0f}s")
        time.sleep(0.1)
    return time.perf_counter()


# -- Ray, straight through `ray job submit` ----------------------------------------------


def ray_cluster(root: Path, nodes: int, gpus: int) -> object:
    from aidc.engines import ray_dev

    return ray_dev.up(root, gpus=gpus, nodes=nodes, cpus=8)


def ray_inventory(cluster: object) -> str:
    address, token = cluster.address, cluster.token_file  # type: ignore[attr-defined]
    return (
        '[[pools]]\nname = "cloud"\nengine = "ray"\n\n'
        f'[engines.ray]\naddress = "{address}"\ntoken_file = "{token}"\n'
    )


def ray_submit(cluster: object, starts: Path, tag: str) -> Submitted:
    from aidc.engines import ray_dev

    root = Path(cluster.dir)  # type: ignore[attr-defined]
    env = ray_dev._env(root)  # the same auth token, HOME and PATH as the cluster's
    runtime = json.dumps({"env_vars": {"BENCH_TAG": tag, "BENCH_STARTS": str(starts)}})
    args = [str(Path(sys.executable).parent / "ray"), "job", "submit", "--no-wait"]
    args += ["--address", cluster.address, "--entrypoint-num-gpus", "1"]  # type: ignore[attr-defined]
    args += ["--submission-id", tag, "--runtime-env-json", runtime, "--", "sh", "-c", RECORD]
    t = time.time_ns()
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"ray job submit failed: {out.stderr.strip()[-500:]}")
    return Submitted(tag, t, tag)


def wait_ray_done(cluster: object, tags: set[str], timeout: float) -> float:
    """Until every submission in ``tags`` has ended (the Jobs API's own list)."""
    import httpx

    from aidc.engines import ray_dev

    headers = ray_dev.auth_headers(cluster.token_file)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{cluster.address}/api/jobs/", headers=headers, timeout=30)  # type: ignore[attr-defined]
        r.raise_for_status()
        status = {j.get("submission_id"): j["status"] for j in r.json()}
        left = [t for t in tags if status.get(t) not in ("SUCCEEDED", "FAILED", "STOPPED")]
        if not left:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(left)} Ray jobs not done after {timeout:.0f}s")
        time.sleep(0.5)
