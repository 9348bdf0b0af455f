"""Simulator speed: an 80,000-job Philly-shaped trace on the ``philly`` preset.

    PYTHONPATH=src .venv/bin/python benchmarks/sim_speed.py              # full size
    PYTHONPATH=src .venv/bin/python benchmarks/sim_speed.py --jobs 20000

The trace is synthesized (``philly_synth``: sizes and durations drawn like the public Philly
job list) into a temporary CSV and read back by the ``philly-csv`` loader, as a user's
trace would be. Each run is a child process, so its peak memory (max RSS) is its own:

* ``full``: the whole trace, loading and simulating, timed end to end (target: <= 30 s on
  the 2-core machine; the Alibaba simulator takes 50-110 s per 20,000 jobs, 2.5-5.5 ms a
  job: the ratio to each end of that range is reported, and 10x of its middle, 4 ms a
  job, is what 30 s for 80,000 jobs amounts to);
* ``baseline``, measured in the same run: the first ``--baseline-jobs`` jobs twice, with
  the ``Planner`` kept for the run (as the simulator does) and with a new ``Planner`` for
  every pass (nothing kept from pass to pass), so the gain of keeping state shows on the
  same machine at the same moment.

Each child first times a fixed pure-Python loop (``calibration_loop_s``): on a shared VM
the same work takes a third longer at some moments than at others, and the loop shows it.
Progress goes to stderr; one JSON object to stdout (and to ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import philly_synth
from aidc.core.policy import preset
from aidc.scheduler import Plan, Planner, Snapshot
from aidc.sim import simulate
from aidc.sim.limits import LimitModel
from aidc.sim.metrics import utilisation
from aidc.sim.presets import load_cluster
from aidc.sim.traces import FORMATS
from machine import cpu_model

ALIBABA_MS_PER_JOB = (50_000 / 20_000, 110_000 / 20_000)


class FreshPlanner(Planner):
    """A new ``Planner`` for every pass: nothing kept from one pass to the next."""

    def plan(self, snapshot: Snapshot) -> Plan:
        return Planner().plan(snapshot)


def calibration_s() -> float:
    """A fixed pure-Python loop, timed: how fast this machine runs Python right now (shared
    VMs vary by a third from minute to minute), to read the wall times beside."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return round(time.perf_counter() - started, 3)


def child(args: argparse.Namespace) -> dict[str, Any]:
    calibration = calibration_s()
    started = time.perf_counter()
    cluster = load_cluster("philly")
    jobs = FORMATS["philly-csv"](Path(args.child), cluster.shape, LimitModel(seed=args.seed))
    if args.limit:
        jobs = itertools.islice(jobs, args.limit)
    result = simulate(
        cluster.nodes,
        jobs,
        preset(args.policy),
        quotas=cluster.quotas,
        planner=FreshPlanner() if args.fresh else None,
    )
    wall = time.perf_counter() - started
    done = len(result.jobs)
    queued = [j.queued_s for j in result.jobs]
    return {
        "wall_s": round(wall, 3),
        "calibration_loop_s": calibration,
        "jobs": done + len(result.unfinished) + len(result.skipped),
        "completed": done,
        "skipped": len(result.skipped),
        "passes": result.passes,
        "jobs_per_s": round(done / wall, 1),
        "ms_per_job": round(1000 * wall / max(done, 1), 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "utilisation": round(utilisation(result, cluster.capacity), 4),
        "queued_s_avg": round(statistics.fmean(queued), 1) if queued else 0.0,
        "jobs_that_waited": sum(1 for q in queued if q > 0),
        "preemptions": sum(j.preemptions for j in result.jobs),
    }


def run_child(csv: Path, args: argparse.Namespace, *, limit: int = 0, fresh: bool = False) -> Any:
    cmd = [sys.executable, __file__, "--child", str(csv), "--policy", args.policy]
    cmd += ["--seed", str(args.seed), "--limit", str(limit)] + (["--fresh"] if fresh else [])
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(done.stdout)


def trace_shape(csv: Path) -> dict[str, Any]:
    import csv as csvmod

    durations: list[float] = []
    gpus: dict[int, int] = {}
    with csv.open(newline="") as f:
        for row in csvmod.DictReader(f):
            durations.append(float(row["duration"]))
            g = int(row["num_gpus"])
            gpus[g] = gpus.get(g, 0) + 1
    durations.sort()
    n = len(durations)
    return {
        "jobs": n,
        "gpus_per_job_pct": {str(k): round(100 * v / n, 2) for k, v in sorted(gpus.items())},
        "duration_median_s": durations[n // 2],
        "duration_mean_s": round(statistics.fmean(durations)),
        "duration_p90_s": durations[int(0.9 * n)],
        "duration_max_s": durations[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=80_000)
    ap.add_argument("--days", type=float, default=75.0)
    ap.add_argument("--policy", default="fairshare")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--baseline-jobs", type=int, default=4_000)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        csv = philly_synth.write(Path(tmp) / "philly.csv", args.jobs, args.days, args.seed)
        shape = trace_shape(csv)
        log(f"trace: {shape}")
        full = run_child(csv, args)
        log(f"full: {full}")
        kept = run_child(csv, args, limit=args.baseline_jobs)
        fresh = run_child(csv, args, limit=args.baseline_jobs, fresh=True)
        log(f"baseline: kept {kept['wall_s']} s, fresh planner per pass {fresh['wall_s']} s")
    out = {
        "benchmark": "sim_speed",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_1m": round(os.getloadavg()[0], 2),
        },
        "command": " ".join(sys.argv),
        "cluster": "philly (352 nodes x 8 GPUs = 2,816)",
        "policy": args.policy,
        "days": args.days,
        "trace": shape,
        "full": full,
        "baseline": {
            "jobs": args.baseline_jobs,
            "kept_planner": kept,
            "new_planner_every_pass": fresh,
            "speedup": round(fresh["wall_s"] / kept["wall_s"], 2),
        },
        "targets": {
            "whole_run_s<=30": full["wall_s"] <= 30.0,
            "x_faster_per_job_than_alibaba_sim": [
                round(a / full["ms_per_job"], 1) for a in ALIBABA_MS_PER_JOB
            ],
            ">=10x_faster_per_job_than_alibaba_midpoint": (
                sum(ALIBABA_MS_PER_JOB) / 2 / full["ms_per_job"] >= 10
            ),
        },
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
