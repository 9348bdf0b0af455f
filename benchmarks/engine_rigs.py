"""The engines benchmarks/engines.py drives: each one's inventory for `aidc server`, and
for Slurm and Ray the same work sent straight to the engine (the outside baseline).

Every job, through aidc or not, appends ``<tag> <start ns> `` to one file when it starts
(tag from the BENCH_TAG variable), so submit-to-start is measured the same way for all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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


def slurm_env(slurm_dir: Path) -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": str(slurm_dir / "slurm.conf")}


def sbatch(
    env: dict[str, str], starts: Path, tag: str, *, gpus: int, wrap: str, account: str
) -> Submitted:
    args = ["sbatch", "--parsable", f"--account={account}", "--output=/dev/null"]
    args += [f"--export=ALL,BENCH_TAG={tag},BENCH_STARTS={starts}", "--ntasks=1", "--mem=100"]
    if gpus:
        args.append(f"--gres=gpu:a100:{gpus}")
    t = time.time_ns()
    out = subprocess.run([*args, f"--wrap={wrap}"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"sbatch failed: {out.stderr.strip()}")
    return Submitted(tag, t, out.stdout.strip().split(";")[0])


def squeue_count(env: dict[str, str], state: str | None = None) -> int:
    args = ["squeue", "-h", "-o", "%i"]
    if state:
        args += ["-t", state]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return len(out.stdout.split())


# -- Ray, straight through `ray job submit` ----------------------------------------------


def ray_cli() -> str:
    found = shutil.which("ray", path=str(Path(os.sys.executable).parent))  # type: ignore[attr-defined]
    if found is None:
        raise RuntimeError("the ray CLI is not installed (pip install 'aidc[ray]')")
    return found
