"""Scheduler scale benchmark: ``plan(snapshot)`` at the size of a national center.

    PYTHONPATH=src .venv/bin/python benchmarks/scheduler_scale.py            # full size
    PYTHONPATH=src .venv/bin/python benchmarks/scheduler_scale.py --jobs 10000 --nodes 200

The scenario is generated from a seeded ``random.Random`` (same seed, same scenario):

* nodes: half h100, two fifths a100 (pool ``gpu``), a tenth rngd NPUs (pool ``npu``), 8
  devices each, one hardware generation (cpus, memory) per rack of 32 nodes, ``rack`` label;
* quotas: 4 programs > 20 organisations (cohorts) > 200 projects; nominal h100/a100/rngd
  quota summing to about 95 % of capacity, some projects with a borrowing or a lending
  limit, shares 1-4, decayed usage per project;
* a queue of Philly-like jobs: 75 % one accelerator, 20 % 2/4/8 on one node, 5 % gangs of
  2-8 nodes x 8; mostly one type, some "a100 or h100", 5 % rngd; normal, opportunistic and
  interactive classes; time limits from 10 minutes to 3 days; submitted over the past day.

For each policy preset (``fairshare`` and ``fifo`` by default), in the same run:

* ``from_scratch``: an empty cluster and the whole queue; one pass of a new ``Planner``
  timed ``--repeat`` times (best and median), then the explanations of every waiting job
  (``Plan.waiting``, built on first read) timed apart; the full pass is the two together;
* ``busy``: the first pass's admits applied as running jobs, the rest of the queue waiting:
  the steady state of a full cluster with a long queue (a new ``Planner`` each time);
* ``sustained``: ``--rounds`` rounds from the busy state with one ``Planner`` kept from
  round to round, as the controller keeps it: jobs past their time limit and a random
  ``--complete-frac`` of the running ones end, preempted jobs exit, ``now`` moves on
  ``--step-s``, one pass, its admits start and its victims start stopping.
  decisions/s = (admits + preemptions) / time spent deciding; also given as if every pass
  explained every waiting job too (the controller explains at most once a second);
* ``thorough``: the from-scratch and busy snapshots once more through
  ``Planner(thorough=True)`` (every job considered in turn, untimed for the targets): same
  decisions, positions and priorities, and how many explanations are worded otherwise;
* ``memory``: in a fresh process per preset: max RSS after generating the scenario and
  after one from-scratch pass, tracemalloc's peak during a pass and its explanations
  (above its inputs) and the inputs' size. The timed passes run without tracemalloc.

Building a snapshot is timed apart from ``plan()``. A pass that runs past ``--pass-timeout``
is stopped (SIGALRM) and reported as timed out. Progress goes to stderr; one JSON object
goes to stdout (and to ``--out``). Targets are reported as pass/fail; the exit status is 0
either way: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from aidc.core.policy import preset
from aidc.scheduler import (
    Plan,
    Planner,
    Snapshot,
)
from machine import cpu_model
from scheduler_passes import Cluster, PassTimeout, Timed, deadline, timed_plan
from scheduler_scenario import Scenario, describe, generate

TARGET_FULL_PASS_S = 1.0
TARGET_DECISIONS_PER_S = 2000.0
SLURM_SUSTAINED_JOBS_PER_S = 500.0


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def pass_report(p: Plan, runs: list[Timed], queue: int, build_s: float) -> dict[str, Any]:
    times = [r.plan_s for r in runs]
    explain = [r.explain_s for r in runs]
    full = [r.plan_s + r.explain_s for r in runs]
    return {
        "queue": queue,
        "snapshot_build_s": round(build_s, 4),
        "runs_s": [round(t, 3) for t in times],
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "explain_runs_s": [round(t, 3) for t in explain],
        "explain_median_s": round(statistics.median(explain), 3),
        "with_explanations_best_s": round(min(full), 3),
        "with_explanations_median_s": round(statistics.median(full), 3),
        "admit": len(p.admit),
        "admitted_accelerators": sum(len(n.devices) for d in p.admit for n in d.placement.nodes),
        "preempt": len(p.preempt),
        "reservations": len(p.reservations),
        "waiting": len(p.waiting),
        "waiting_by_reason": dict(Counter(str(w.reason) for w in p.waiting)),
        "jobs_considered_per_s": round(queue / min(times)),
    }


def timed_passes(
    c: Cluster, repeat: int, limit_s: float, what: str, check: bool
) -> tuple[Plan | None, dict[str, Any]]:
    """``repeat`` passes over the same state, each with a new ``Planner`` (nothing kept
    from an earlier pass: the cost of a first pass after a start)."""
    t0 = time.perf_counter()
    s = c.snapshot()
    build_s = time.perf_counter() - t0
    runs: list[Timed] = []
    last: Plan | None = None
    for i in range(repeat):
        r = timed_plan(Planner(), s, limit_s)
        if r.plan is None:
            log(f"  {what}: run {i + 1} stopped after {r.plan_s:.1f}s (--pass-timeout {limit_s:g})")
            return last, {
                "queue": len(s.queue),
                "running": len(s.running),
                "timed_out": True,
                "pass_timeout_s": limit_s,
                "runs_s": [round(x.plan_s, 3) for x in runs],
            }
        runs.append(r)
        last = r.plan
        log(
            f"  {what}: run {i + 1}: {r.plan_s:.3f}s + {r.explain_s:.3f}s explaining, "
            f"{len(last.admit)} admits, load {load()}"
        )
    assert last is not None
    rep = pass_report(last, runs, len(s.queue), build_s)
    rep["running"] = len(s.running)
    if check:
        rep["thorough"] = against_thorough(s, last)
        log(f"  {what}: against the job-by-job pass: {rep['thorough']}")
    return last, rep


def against_thorough(s: Snapshot, fast: Plan) -> dict[str, Any]:
    """The same snapshot through ``Planner(thorough=True)``, which considers every job in
    turn: the decisions, positions and priorities must be the same; explanations may word
    some reasons otherwise (docs/scheduler.md)."""
    t0 = time.perf_counter()
    slow = Planner(thorough=True).plan(s)
    slow_s = time.perf_counter() - t0
    pairs = list(zip(fast.waiting, slow.waiting, strict=False))
    return {
        "same_decisions": (fast.admit, fast.preempt, fast.reservations)
        == (slow.admit, slow.preempt, slow.reservations),
        "same_order_and_priorities": len(fast.waiting) == len(slow.waiting)
        and all(
            (a.job_id, a.position, a.project_position, a.priority)
            == (b.job_id, b.position, b.project_position, b.priority)
            for a, b in pairs
        ),
        "other_reason": sum(a.reason != b.reason for a, b in pairs),
        "other_message": sum(a.message != b.message for a, b in pairs),
        "thorough_pass_s": round(slow_s, 3),
    }


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: always a time that was actually observed."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def sustained(c: Cluster, args: argparse.Namespace) -> dict[str, Any]:
    """Rounds of completions and passes with one ``Planner`` kept from round to round, as
    the controller keeps it (it first sees the starting state once, untimed)."""
    rng = random.Random(args.seed + 1)
    planner = Planner()
    planner.plan(c.snapshot())
    times: list[float] = []
    explain: list[float] = []
    builds: list[float] = []
    admits = preempts = considered = 0
    gone = Counter[str]()
    timed_out = False
    for i in range(args.rounds):
        gone.update(c.advance(rng, args.step_s, args.complete_frac))
        t0 = time.perf_counter()
        s = c.snapshot()
        builds.append(time.perf_counter() - t0)
        r = timed_plan(planner, s, args.pass_timeout)
        if r.plan is None:
            log(f"  sustained: round {i + 1} stopped after {r.plan_s:.1f}s")
            timed_out = True
            break
        p, t = r.plan, r.plan_s
        times.append(t)
        explain.append(r.explain_s)
        considered += len(s.queue)
        admits += len(p.admit)
        preempts += len(p.preempt)
        c.apply(p)
        if (i + 1) % 10 == 0 or i == 0:
            log(
                f"  sustained: round {i + 1}: {t:.3f}s + {r.explain_s:.3f}s explaining, "
                f"{len(p.admit)} admits, {len(p.preempt)} preemptions, load {load()}"
            )
    total = sum(times)
    out: dict[str, Any] = {
        "rounds": len(times),
        "step_s": args.step_s,
        "complete_frac": args.complete_frac,
        "timed_out": timed_out,
        "ended": dict(gone),
        "admits": admits,
        "preemptions": preempts,
        "plan_s_total": round(total, 3),
        "snapshot_build_s_total": round(sum(builds), 3),
    }
    if times:
        out.update(
            {
                "decisions_per_s": round((admits + preempts) / total, 1),
                # If every pass also explained every waiting job (the controller explains at
                # most once a second).
                "decisions_per_s_explaining_every_pass": round(
                    (admits + preempts) / (total + sum(explain)), 1
                ),
                "explain_p50_s": round(percentile(explain, 50), 3),
                "explain_max_s": round(max(explain), 3),
                "admits_per_s": round(admits / total, 1),
                "passes_per_s": round(len(times) / total, 3),
                "jobs_considered_per_s": round(considered / total),
                "pass_p50_s": round(percentile(times, 50), 3),
                "pass_p99_s": round(percentile(times, 99), 3),
                "pass_max_s": round(max(times), 3),
                "running_end": len(c.running),
                "queue_end": len(c.pending),
                "busy_devices_end_pct": round(100 * c.busy_devices() / c.total_devices, 1),
            }
        )
    return out


def memory_child(args: argparse.Namespace) -> dict[str, Any]:
    """Memory of one from-scratch pass, in a process of its own (``--memory-of PRESET``), so
    that neither tracemalloc nor a second copy of the scenario touches the timed passes and
    max RSS is that of one scenario and one pass:

    1. generate the scenario: max RSS after it;
    2. one pass, untraced: its time and max RSS after it;
    3. one pass under tracemalloc: the peak of what the pass allocates (the snapshot it is
       given was allocated before tracing, so it is not counted);
    4. the scenario generated again under tracemalloc: the size of the inputs.
    """
    policy = preset(args.memory_of)
    limit = args.pass_timeout
    out: dict[str, Any] = {"max_rss_mib_after_imports": max_rss_mib()}
    sc = generate(args.seed, args.nodes, args.jobs, args.projects)
    s = Cluster(sc, policy).snapshot()
    out["max_rss_mib_after_generate"] = max_rss_mib()
    r = timed_plan(Planner(), s, limit)
    if r.plan is None:
        out.update({"timed_out": True, "pass_timeout_s": limit})
        return out
    out["pass_s"] = round(r.plan_s, 3)
    out["explain_s"] = round(r.explain_s, 3)
    out["max_rss_mib_after_pass"] = max_rss_mib()
    del r
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    try:
        with deadline(limit * 4):  # tracemalloc slows Python down several times
            # Kept alive, explanations built: plan_result_mib is what the Plan holds.
            kept = Planner().plan(s)
            kept.waiting  # noqa: B018
    except PassTimeout:
        tracemalloc.stop()
        out.update({"timed_out": True, "pass_timeout_s": limit * 4})
        return out
    elapsed = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.clear_traces()
    tracemalloc.reset_peak()
    other = generate(args.seed, args.nodes, args.jobs, args.projects)
    scenario = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del other
    out.update(
        {
            "admit": len(kept.admit),
            "plan_peak_mib": round((peak - base) / 2**20, 1),
            "plan_result_mib": round((current - base) / 2**20, 1),
            "pass_s_under_tracemalloc": round(elapsed, 2),
            "scenario_mib": round(scenario / 2**20, 1),
        }
    )
    return out


def memory(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """``memory_child`` for preset ``name`` in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-of", name]
    for flag in ("jobs", "nodes", "projects", "seed", "pass_timeout"):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.pass_timeout * 6 + 120
        )
    except subprocess.TimeoutExpired:
        return {"timed_out": True, "error": "the memory process ran past its time"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def max_rss_mib() -> float:
    """Peak RSS of this process: VmHWM, not ru_maxrss, which Linux carries over from the
    parent through fork and exec (the memory process would report the parent's peak)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- main ---------------------------------------------------------------------------------


def run_preset(name: str, sc: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    policy = preset(name)
    out: dict[str, Any] = {"load_before": load()}
    c = Cluster(sc, policy)
    log(f"{name}: from scratch, {len(c.pending)} pending on an empty cluster")
    first, out["from_scratch"] = timed_passes(
        c, args.repeat, args.pass_timeout, "from scratch", args.check
    )
    if first is None or out["from_scratch"].get("timed_out"):
        out["note"] = "the from-scratch pass ran past --pass-timeout; nothing more measured"
        return out
    c.apply(first)
    busy = round(100 * c.busy_devices() / c.total_devices, 1)
    log(
        f"{name}: busy cluster, {len(c.running)} running ({busy}% of devices), "
        f"{len(c.pending)} pending"
    )
    _, out["busy"] = timed_passes(c, args.repeat, args.pass_timeout, "busy", args.check)
    out["busy"]["busy_devices_pct"] = busy
    if not out["busy"].get("timed_out") and args.rounds:
        log(f"{name}: sustained, {args.rounds} rounds")
        out["sustained"] = sustained(c, args)
    if args.memory:
        log(f"{name}: memory, in a process of its own")
        out["memory"] = memory(name, args)
    out["load_after"] = load()
    return out


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_before": load(),
    }


def targets(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, res in r["presets"].items():
        fs = res.get("from_scratch", {})
        if "best_s" in fs:
            # The full pass: deciding and explaining every waiting job.
            out[f"{name}_full_pass_s"] = {
                "target": f"<= {TARGET_FULL_PASS_S:g}",
                "measured_best": fs["with_explanations_best_s"],
                "measured_median": fs["with_explanations_median_s"],
                "deciding_median": fs["median_s"],
                "pass": fs["with_explanations_median_s"] <= TARGET_FULL_PASS_S,
            }
        elif fs.get("timed_out"):
            out[f"{name}_full_pass_s"] = {
                "target": f"<= {TARGET_FULL_PASS_S:g}",
                "measured": f"> {fs['pass_timeout_s']:g} (stopped)",
                "pass": False,
            }
        su = res.get("sustained", {})
        if "decisions_per_s" in su:
            out[f"{name}_decisions_per_s"] = {
                "target": f">= {TARGET_DECISIONS_PER_S:g}",
                "measured": su["decisions_per_s"],
                "pass": su["decisions_per_s"] >= TARGET_DECISIONS_PER_S,
                "slurm_sustained_jobs_per_s": SLURM_SUSTAINED_JOBS_PER_S,
            }
    return out


def comparison(presets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """fairshare over fifo, for the numbers both presets have (a pass that was stopped counts
    as at least its timeout)."""
    a, b = presets.get("fairshare"), presets.get("fifo")
    if not a or not b:
        return {}
    out: dict[str, Any] = {}
    for phase, key in (
        ("from_scratch", "median_s"),
        ("busy", "median_s"),
        ("sustained", "decisions_per_s"),
        ("sustained", "pass_p50_s"),
        ("memory", "plan_peak_mib"),
    ):
        pa, pb = a.get(phase, {}), b.get(phase, {})
        x, y = pa.get(key), pb.get(key)
        if x is not None and y:
            out[f"{phase}.{key}"] = {
                "fairshare": x,
                "fifo": y,
                "fairshare_over_fifo": round(x / y, 2),
            }
        elif x is not None and key == "median_s" and pb.get("timed_out"):
            limit = pb["pass_timeout_s"]
            out[f"{phase}.{key}"] = {
                "fairshare": x,
                "fifo": f"> {limit:g} (stopped)",
                "fairshare_over_fifo": f"< {x / limit:.3g}",
            }
    return out


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000, help="pending jobs (100000)")
    ap.add_argument("--nodes", type=int, default=2000, help="nodes, 8 devices each (2000)")
    ap.add_argument("--projects", type=int, default=200, help="projects in 20 cohorts (200)")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument(
        "--presets",
        default="fairshare,fifo",
        help="policy presets, comma-separated (fairshare,fifo)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each full pass (3)")
    ap.add_argument("--rounds", type=int, default=30, help="sustained rounds (30; 0: skip)")
    ap.add_argument("--step-s", type=float, default=60.0, help="simulated seconds per round (60)")
    ap.add_argument(
        "--complete-frac", type=float, default=0.02, help="running jobs ending per round (0.02)"
    )
    ap.add_argument(
        "--pass-timeout", type=float, default=120.0, help="stop a pass after this long (120 s)"
    )
    ap.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the memory passes"
    )
    ap.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip comparing the from-scratch and busy plans with the job-by-job pass",
    )
    ap.add_argument("--memory-of", metavar="PRESET", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help="also write the JSON result to this file")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args.memory_of:
        print(json.dumps(memory_child(args)))
        return 0
    t_run = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    result: dict[str, Any] = {
        "benchmark": "scheduler_scale",
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    log(f"generating {args.nodes} nodes, {args.projects} projects, {args.jobs} jobs")
    t0 = time.perf_counter()
    sc = generate(args.seed, args.nodes, args.jobs, args.projects)
    result["scenario"] = describe(sc, time.perf_counter() - t0)
    result["presets"] = {}
    for name in args.presets.split(","):
        result["presets"][name] = run_preset(name.strip(), sc, args)
    result["comparison"] = comparison(result["presets"])
    result["targets"] = targets(result)
    result["max_rss_mib"] = max_rss_mib()
    result["machine"]["loadavg_after"] = load()
    result["total_run_s"] = round(time.perf_counter() - t_run, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
