"""Engines benchmark: aidc on each engine against the engine on its own.

    .venv/bin/python benchmarks/engines.py                       # every engine found here
    .venv/bin/python benchmarks/engines.py --engines local --phases scale

Phases:

* latency: N (200) trivial one-GPU jobs submitted at once, through `aidc server` on each
  engine (local; Slurm and Ray where their dev clusters run), and the same jobs straight
  through `sbatch` and `ray job submit` (the outside baseline). Submit-to-start is the
  job's own start timestamp minus the client's clock just before its submit call; jobs/s
  is N over the time from the first submit until every job has ended.
* scale: a center on one machine (32 nodes of 8 GPUs: 256 GPUs) for the local engine and
  for plain Slurm (32 slurmd of 8 fake GPUs: `scripts/slurm-dev up --nodes 32 --gpus 8`):
  the end-to-end rate of 2,000 trivial jobs; the start rate from a 2,000-deep queue of
  `sleep 600` (a gang blocker holds every GPU while the queue is submitted; the clock
  starts when it has ended and stops when every GPU runs a job); the time to cancel 512
  running one-CPU jobs (from the first cancel until all have ended).

Progress goes to stderr; one JSON object to stdout. Targets are reported as pass/fail; the
exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.server_process import ServerProcess  # noqa: E402

import engine_rigs as rigs  # noqa: E402
from engine_rigs import RECORD, Submitted, burst, local_inventory, wait_starts  # noqa: E402
from loadgen import log, summary  # noqa: E402
from machine import cpu_model  # noqa: E402

USER, PROJECT = "minji", "hanbit-vision"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "LOST"}
# (target, True: at least / False: at most)
TARGETS = {
    "starts_per_s": (200.0, True),
    "trivial_jobs_per_s": (80.0, True),
    "cancel_512_s": (5.0, False),
}
MAX_OVERHEAD = 0.20


class Aidc:
    """An `aidc server --demo` on an inventory, and a few HTTP calls against it."""

    def __init__(self, home: Path, inventory: str, workers: int = 2) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "inventory.toml").write_text(inventory)
        self.srv = ServerProcess(
            home,
            f"sqlite:///{home / 'aidc.db'}",
            workers=workers,
            extra_args=("--inventory", str(home / "inventory.toml")),
        )

    def __enter__(self) -> Aidc:
        self.srv.start(timeout=60)
        self.headers = {"Authorization": f"Bearer {self.srv.tokens[USER]}"}
        self.http = httpx.Client(base_url=self.srv.url, headers=self.headers, timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()
        self.srv.stop()

    def submit_many(
        self,
        specs: list[dict[str, Any]],
        clients: int = 4,
        after: Callable[[Submitted], None] | None = None,
    ) -> list[Submitted]:
        """POST every spec from ``clients`` threads; ``after(sub)`` runs in the submitting
        thread before its next POST (closed loop: wait for the job's start)."""
        local = {}

        def one(i: int) -> Submitted:
            import threading

            c = local.get(threading.get_ident())
            if c is None:
                c = local[threading.get_ident()] = httpx.Client(
                    base_url=self.srv.url, headers=self.headers, timeout=60
                )
            t = time.time_ns()
            r = c.post("/v1/jobs", json=specs[i])
            r.raise_for_status()
            tag = specs[i].get("env", {}).get("BENCH_TAG", str(i))
            sub = Submitted(tag, t, r.json()["id"])
            if after is not None:
                after(sub)
            return sub

        done, _ = burst(len(specs), one, clients)
        for c in local.values():
            c.close()
        return done

    def states(self, ids: list[str]) -> dict[str, str]:
        """Every job's state in one request (the history export has them all)."""
        r = self.http.get("/v1/jobs/export")
        r.raise_for_status()
        rows = csv.DictReader(io.StringIO(r.text))
        out = {row["job_id"]: row["state"] for row in rows}
        return {i: out.get(i, "?") for i in ids}

    def wait_all(self, ids: list[str], states: set[str], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            now = self.states(ids)
            if all(s in states for s in now.values()):
                return time.perf_counter()
            if time.monotonic() > deadline:
                left = sum(s not in states for s in now.values())
                raise RuntimeError(f"{left} jobs not {states} after {timeout:.0f}s")
            time.sleep(0.1)

    def cancel_many(self, ids: list[str]) -> None:
        """One bulk request per 1,000 jobs, as `aidc cancel ID...` (and `scancel ID...`)."""
        for start in range(0, len(ids), 1000):
            r = self.http.post("/v1/jobs/cancel", json={"ids": ids[start : start + 1000]})
            r.raise_for_status()


def job(tag: str, starts: Path, script: str, gpus: int = 1, **extra: Any) -> dict[str, Any]:
    env = {"BENCH_TAG": tag, "BENCH_STARTS": str(starts)}
    spec = {"project": PROJECT, "script": script, "accelerators": gpus, "env": env}
    return {"time_limit_s": 3600, **spec, **extra}


def closed_loop(starts: Path, closed: bool) -> Callable[[Submitted], None] | None:
    """In closed-loop mode each client waits for its job to start before the next submit,
    so submit-to-start is the path's own latency, not time spent in a queue."""
    if not closed:
        return None

    def wait(sub: Submitted) -> None:
        wait_starts(starts, {sub.tag}, timeout=300)

    return wait


def paced(
    submit_one: Callable[[int], Submitted], starts: Path, closed: bool
) -> Callable[[int], Submitted]:
    after = closed_loop(starts, closed)

    def go(i: int) -> Submitted:
        sub = submit_one(i)
        if after is not None:
            after(sub)
        return sub

    return go


def latency_through_aidc(
    name: str, inventory: str, tmp: Path, n: int, closed: bool
) -> dict[str, Any]:
    starts = tmp / f"{name}-{closed}-starts"
    with Aidc(tmp / f"{name}-{closed}-home", inventory) as aidc:
        specs = [job(f"{name}-{i}", starts, RECORD) for i in range(n)]
        t0 = time.perf_counter()
        subs = aidc.submit_many(specs, after=closed_loop(starts, closed))
        seen = wait_starts(starts, {s.tag for s in subs}, timeout=600)
        end = aidc.wait_all([s.engine_id for s in subs], TERMINAL, timeout=600)
        failed = [
            i for i, s in aidc.states([s.engine_id for s in subs]).items() if s != "SUCCEEDED"
        ]
    return result(subs, seen, end - t0, failed)


def result(
    subs: list[Submitted], seen: dict[str, int], wall_s: float, failed: list[str]
) -> dict[str, Any]:
    latencies = [seen[s.tag] - s.submit_ns for s in subs]
    return {
        "jobs": len(subs),
        "submit_to_start": summary(latencies, (50, 99)),
        "jobs_per_s": round(len(subs) / wall_s, 1),
        "wall_s": round(wall_s, 2),
        "not_succeeded": len(failed),
    }


def scale_local(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    starts = tmp / "scale-local-starts"
    out: dict[str, Any] = {}
    inventory = local_inventory(args.scale_nodes, args.scale_gpus)
    gpus = args.scale_nodes * args.scale_gpus
    with Aidc(tmp / "scale-local-home", inventory) as aidc:
        log(f"scale/local: {args.trivial} trivial jobs end to end")
        specs = [job(f"t{i}", starts, RECORD) for i in range(args.trivial)]
        t0 = time.perf_counter()
        subs = aidc.submit_many(specs)
        end = aidc.wait_all([s.engine_id for s in subs], TERMINAL, timeout=900)
        out["trivial_jobs_per_s"] = round(len(subs) / (end - t0), 1)

        log(f"scale/local: start rate from a {args.queue}-deep queue on {gpus} GPUs")
        blocker = aidc.submit_many(
            [job("blocker", starts, "sleep 600", gpus=args.scale_gpus, nodes=args.scale_nodes)]
        )[0]
        aidc.wait_all([blocker.engine_id], {"RUNNING"}, timeout=60)
        sleepers = [job(f"q{i}", starts, f"{RECORD}; exec sleep 600") for i in range(args.queue)]
        queued = aidc.submit_many(sleepers)
        aidc.cancel_many([blocker.engine_id])
        aidc.wait_all([blocker.engine_id], TERMINAL, timeout=60)
        freed = aidc.http.get(f"/v1/jobs/{blocker.engine_id}").json()["finished_at"]
        # Every GPU runs one of them: the first `gpus` in queue order (near enough the
        # order of submission; 4 clients submit at once).
        seen = wait_starts(starts, {s.tag for s in queued}, timeout=600, count=gpus)
        last = max(seen.values()) / 1e9
        out["starts_per_s"] = round(gpus / (last - freed), 1)
        out["start_wall_s"] = round(last - freed, 2)
        aidc.cancel_many([s.engine_id for s in reversed(queued)])
        aidc.wait_all([s.engine_id for s in queued], TERMINAL, timeout=300)

        log(f"scale/local: cancel {args.cancel} running one-CPU jobs")
        cpu_jobs = [
            job(f"c{i}", starts, f"{RECORD}; exec sleep 600", gpus=0) for i in range(args.cancel)
        ]
        running = aidc.submit_many(cpu_jobs)
        ids = [s.engine_id for s in running]
        wait_starts(starts, {s.tag for s in running}, timeout=600)
        aidc.wait_all(ids, {"RUNNING"}, timeout=120)
        t0 = time.perf_counter()
        aidc.cancel_many(ids)
        out["cancel_requests_s"] = round(time.perf_counter() - t0, 2)
        end = aidc.wait_all(ids, TERMINAL, timeout=600)
        out["cancel_512_s"] = round(end - t0, 2)
    return out


def latency_slurm(tmp: Path, n: int, closed: bool) -> dict[str, Any]:
    env = rigs.slurm_up(4, 4)
    out = {"aidc-slurm": latency_through_aidc("slurm", rigs.slurm_inventory(), tmp, n, closed)}
    log(f"latency/sbatch: {n} one-GPU jobs straight through sbatch")
    starts = tmp / f"sbatch-{closed}-starts"
    t0 = time.perf_counter()
    one = paced(lambda i: rigs.sbatch(env, starts, f"sb-{i}", gpus=1, wrap=RECORD), starts, closed)
    subs, _ = burst(n, one)
    seen = wait_starts(starts, {s.tag for s in subs}, timeout=600)
    end = rigs.wait_slurm_empty(env, timeout=600)
    out["sbatch"] = result(subs, seen, end - t0, [])
    return out


def latency_ray(tmp: Path, n: int, closed: bool) -> dict[str, Any]:
    from aidc.engines import ray_dev

    cluster = rigs.ray_cluster(tmp / "ray", nodes=1, gpus=8)
    try:
        inventory = rigs.ray_inventory(cluster)
        out = {"aidc-ray": latency_through_aidc("ray", inventory, tmp, n, closed)}
        log(f"latency/ray-job-submit: {n} one-GPU jobs straight through `ray job submit`")
        starts = tmp / f"ray-{closed}-starts"
        t0 = time.perf_counter()
        one = paced(lambda i: rigs.ray_submit(cluster, starts, f"rs{closed:d}-{i}"), starts, closed)
        subs, _ = burst(n, one)
        seen = wait_starts(starts, {s.tag for s in subs}, timeout=900)
        end = rigs.wait_ray_done(cluster, {s.tag for s in subs}, timeout=900)
        out["ray-job-submit"] = result(subs, seen, end - t0, [])
    finally:
        ray_dev.down(tmp / "ray")
    return out


def scale_slurm(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The same three measurements on plain Slurm (32 slurmd of 8 fake GPUs)."""
    env = rigs.slurm_up(args.scale_nodes, args.scale_gpus)
    starts = tmp / "scale-slurm-starts"
    gpus = args.scale_nodes * args.scale_gpus
    out: dict[str, Any] = {}
    try:
        log(f"scale/slurm: {args.trivial} trivial jobs end to end")
        t0 = time.perf_counter()
        burst(args.trivial, lambda i: rigs.sbatch(env, starts, f"t{i}", gpus=1, wrap=RECORD))
        out["trivial_jobs_per_s"] = round(args.trivial / (rigs.wait_slurm_empty(env, 900) - t0), 1)

        log(f"scale/slurm: start rate from a {args.queue}-deep queue on {gpus} GPUs")
        whole = (f"--nodes={args.scale_nodes}", "--ntasks-per-node=1", "--exclusive")
        gres = (f"--gres=gpu:a100:{args.scale_gpus}",)
        blocker = rigs.sbatch(env, starts, "blocker", gpus=0, wrap="sleep 600", extra=whole + gres)
        while blocker.engine_id not in rigs.squeue_ids(env, "R"):
            time.sleep(0.2)
        sleeper = f"{RECORD}; exec sleep 600"
        queued, _ = burst(
            args.queue, lambda i: rigs.sbatch(env, starts, f"q{i}", gpus=1, wrap=sleeper)
        )
        subprocess.run(["scancel", blocker.engine_id], env=env, check=True)
        freed = time.time()  # when scancel returned: Slurm's own cancel is not charged
        seen = wait_starts(starts, {s.tag for s in queued}, timeout=900, count=gpus)
        last = max(seen.values()) / 1e9
        out["starts_per_s"] = round(gpus / (last - freed), 1)
        out["start_wall_s"] = round(last - freed, 2)
        subprocess.run(["scancel", "-A", "bench"], env=env, check=True)
        rigs.wait_slurm_empty(env, 600)

        log(f"scale/slurm: cancel {args.cancel} running one-CPU jobs")
        running, _ = burst(
            args.cancel, lambda i: rigs.sbatch(env, starts, f"c{i}", gpus=0, wrap=sleeper)
        )
        wait_starts(starts, {s.tag for s in running}, timeout=900)
        t0 = time.perf_counter()
        subprocess.run(["scancel", *(s.engine_id for s in running)], env=env, check=True)
        out["cancel_512_s"] = round(rigs.wait_slurm_empty(env, 900) - t0, 2)
    finally:
        subprocess.run(["scancel", "-A", "bench"], env=env, check=False)
        rigs.slurm_up(4, 4)  # the size the tests expect
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--engines",
        default="auto",
        help="comma-separated of local,slurm,ray; auto: local, plus slurm where its tools "
        "are installed and ray where it imports",
    )
    ap.add_argument(
        "--phases",
        default="latency,burst,scale",
        help="latency: 4 clients, each waits for its job to start before the next submit; "
        "burst: all jobs at once (a queue); scale: the center-scale runs",
    )
    ap.add_argument("--jobs", type=int, default=200, help="latency jobs per engine (200)")
    ap.add_argument("--trivial", type=int, default=2000)
    ap.add_argument("--queue", type=int, default=2000)
    ap.add_argument("--cancel", type=int, default=512)
    ap.add_argument("--scale-nodes", type=int, default=32)
    ap.add_argument("--scale-gpus", type=int, default=8)
    args = ap.parse_args()
    engines, phases = _engines(args.engines), args.phases.split(",")
    report: dict[str, Any] = {
        "benchmark": "engines",
        "engines": engines,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "cpu_model": cpu_model()},
        "scale": {},
    }
    with tempfile.TemporaryDirectory(prefix="aidc-engines-") as tmp_s:
        tmp = Path(tmp_s)
        # As root, jobs run as other users (isolation): the home's parent must be passable.
        os.chmod(tmp, 0o711)
        for phase, closed in (("latency", True), ("burst", False)):
            if phase not in phases:
                continue
            report[phase] = {}
            if "local" in engines:
                log(f"{phase}/local: {args.jobs} one-GPU jobs through aidc")
                report[phase]["aidc-local"] = latency_through_aidc(
                    "local", local_inventory(4, 4), tmp, args.jobs, closed
                )
            if "slurm" in engines:
                report[phase].update(latency_slurm(tmp, args.jobs, closed))
            if "ray" in engines:
                report[phase].update(latency_ray(tmp, args.jobs, closed))
        if "scale" in phases and "local" in engines:
            report["scale"]["aidc-local"] = scale_local(tmp, args)
        if "scale" in phases and "slurm" in engines:
            report["scale"]["slurm"] = scale_slurm(tmp, args)
    report["targets"] = targets(report)
    print(json.dumps(report, indent=2))
    return 0


def _engines(choice: str) -> list[str]:
    if choice != "auto":
        return choice.split(",")
    import importlib.util
    import shutil

    found = ["local"]
    if shutil.which("sbatch") and shutil.which("slurmctld"):
        found.append("slurm")
    if importlib.util.find_spec("ray") is not None:
        found.append("ray")
    return found


def targets(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    local = r["scale"].get("aidc-local", {})
    for key, (target, at_least) in TARGETS.items():
        if key in local:
            ok = local[key] >= target if at_least else local[key] <= target
            sign = ">=" if at_least else "<="
            out[key] = {"target": f"{sign} {target:g}", "measured": local[key], "pass": ok}
    lat = r.get("latency", {})
    for engine, baseline in (("slurm", "sbatch"), ("ray", "ray-job-submit")):
        a, b = lat.get(f"aidc-{engine}"), lat.get(baseline)
        if a and b:
            ratio = a["submit_to_start"]["p50_ms"] / b["submit_to_start"]["p50_ms"]
            out[f"{engine}_p50_overhead"] = {
                "target": f"<= +{MAX_OVERHEAD:.0%}",
                "measured": f"{ratio - 1:+.1%}",
                "pass": ratio <= 1 + MAX_OVERHEAD,
            }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
