"""Validation harness benchmark: the harness's offline throughput against a bare ONNX Runtime
loop on the same model, in the same run.

    .venv/bin/python benchmarks/validate.py [--repeats 5] [--min-duration-s 5] [--out FILE]

The model is the test suite's generated MLP made large enough that one call is milliseconds
of matrix work, not Python call overhead (512 -> 2048 -> 2048 -> 1000, 7.3 M weights), with
2,048 generated samples. Each repeat runs, as separate processes, one after the other:

- the harness: `python -m aidc.validation.harness --scenario offline` (warm-up, accuracy
  pass, bounded batch search, then the timed run); its `throughput_per_s` is the figure;
- the baseline: a bare `onnxruntime.InferenceSession` (the same default session options,
  so the same threads) warmed up at the batch the harness chose, then timed over the same
  number of samples at that batch, with the same consecutive slices of the same dataset.

Then, in one process, the paired run: the harness's own session (aidc's OnnxSession) and
timed loop (scenarios.offline_run, which produces the harness's figure) against the bare
loop, in --chunk-s chunks whose order rotates, at the batch the search picked most often,
so that both sides of each pair see the same moment of a shared machine's load; a second
bare session, the control, shows how far two identical loops differ (the noise floor).
Thread settings: ONNX Runtime's defaults on both sides, or $AIDC_VALIDATION_THREADS
intra-op threads on both.

Overhead = 1 - harness / bare; the target is a median overhead <= 5 % in both. Progress
goes to stderr; one JSON object to stdout and to benchmarks/results/ (or --out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model  # noqa: E402

TARGET = 0.05
SHAPE = {"features": 512, "hidden": 2048, "classes": 1000, "layers": 3}
SAMPLES = 2048


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def options() -> object:
    """The bare side's session options: the same intra-op threads as the harness's."""
    import onnxruntime as ort

    o = ort.SessionOptions()
    if os.environ.get("AIDC_VALIDATION_THREADS"):
        o.intra_op_num_threads = int(os.environ["AIDC_VALIDATION_THREADS"])
    return o


def bare(model: str, data: str, batch: int, samples: int, warmup_s: float) -> None:
    """The baseline process: print the throughput of a plain session.run loop as JSON."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(model, options(), providers=["CPUExecutionProvider"])
    name, outputs = session.get_inputs()[0].name, [session.get_outputs()[0].name]
    x = np.load(Path(data) / "inputs.npy")
    n = len(x)
    work = [
        x[s : s + batch] if s + batch <= n else np.take(x, np.arange(s, s + batch) % n, axis=0)
        for s in range(0, n, batch)
    ]
    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        session.run(outputs, {name: work[0]})
    calls = -(-samples // batch)
    t0 = time.perf_counter_ns()
    for i in range(calls):
        session.run(outputs, {name: work[i % len(work)]})
    ns = time.perf_counter_ns() - t0
    print(json.dumps({"samples": calls * batch, "seconds": ns / 1e9}))


def paired(model: Path, data: Path, batch: int, chunks: int, chunk_s: float) -> dict:
    """The harness's own session and timed loop against a bare loop, in one process, in short
    chunks whose order rotates, with a second bare session as the control (its difference
    from the first is the noise floor: two identical loops)."""
    import numpy as np
    import onnxruntime as ort

    from aidc.validation import scenarios
    from aidc.validation.onnx_runtime import OnnxRuntime

    x = np.load(data / "inputs.npy")
    work = [x[s : s + batch] for s in range(0, len(x) - batch + 1, batch)]
    harness_run = OnnxRuntime().load(model, "cpu").run

    def bare_side() -> object:
        session = ort.InferenceSession(str(model), options(), providers=["CPUExecutionProvider"])
        name, outputs = session.get_inputs()[0].name, [session.get_outputs()[0].name]

        def loop(calls: int) -> float:
            t0 = time.perf_counter_ns()
            for j in range(calls):
                session.run(outputs, {name: work[j % len(work)]})
            return (time.perf_counter_ns() - t0) / 1e9

        return loop

    def harness_side(calls: int) -> float:
        return scenarios.offline_run(harness_run, x, batch, calls * batch, 0)[1]

    sides = {"harness": harness_side, "bare": bare_side(), "control": bare_side()}
    for side in sides.values():
        side(2)  # warm
    # As many calls per chunk as the harness's loop makes in chunk_s.
    calls = scenarios.offline_run(harness_run, x, batch, 1, chunk_s)[0] // batch
    seconds: dict[str, list[float]] = {k: [] for k in sides}
    names = list(sides)
    for i in range(chunks):
        for k in names[i % 3 :] + names[: i % 3]:
            seconds[k].append(sides[k](calls))
        log(
            f"paired chunk {i + 1}/{chunks}: "
            + ", ".join(f"{k} {calls * batch / v[-1]:.0f}/s" for k, v in seconds.items())
        )

    def overhead(k: str) -> list[float]:
        return [round(1 - b / s, 4) for s, b in zip(seconds[k], seconds["bare"], strict=True)]

    return {
        "batch": batch,
        "calls_per_chunk": calls,
        "per_s": {k: [round(calls * batch / v, 1) for v in vs] for k, vs in seconds.items()},
        "harness_overhead": overhead("harness"),
        "control_overhead": overhead("control"),
        "median_harness_overhead": statistics.median(overhead("harness")),
        "median_control_overhead": statistics.median(overhead("control")),
    }


def run_harness(model: Path, data: Path, out: Path, min_s: float, warmup_s: float) -> dict:
    argv = [sys.executable, "-m", "aidc.validation.harness", "--model", str(model)]
    argv += ["--data", str(data), "--metric", "top1", "--scenario", "offline"]
    argv += ["--runtime", "onnxruntime", "--device", "cpu", "--out", str(out)]
    argv += ["--warmup-s", str(warmup_s), "--min-duration-s", str(min_s), "--max-batch", "256"]
    subprocess.run(argv, check=True)
    off = json.loads(out.read_text())["scenarios"]["offline"]
    return {k: off[k] for k in ("batch", "samples", "seconds", "throughput_per_s", "search")}


def run_bare(model: Path, data: Path, batch: int, samples: int, warmup_s: float) -> dict:
    argv = [sys.executable, __file__, "--bare", str(model), str(data), str(batch), str(samples)]
    p = subprocess.run([*argv, str(warmup_s)], check=True, capture_output=True, text=True)
    r = json.loads(p.stdout)
    return {**r, "batch": batch, "throughput_per_s": r["samples"] / r["seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-duration-s", type=float, default=5.0)
    ap.add_argument("--warmup-s", type=float, default=1.0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--chunks", type=int, default=30)
    ap.add_argument("--chunk-s", type=float, default=1.0)
    ap.add_argument("--bare", nargs=5, metavar=("MODEL", "DATA", "BATCH", "SAMPLES", "WARMUP"))
    args = ap.parse_args()
    if args.bare:
        m, d, b, s, w = args.bare
        bare(m, d, int(b), int(s), float(w))
        return
    from tests.validation_models import write_dataset, write_model

    load_start = os.getloadavg()
    pairs = []
    with tempfile.TemporaryDirectory(prefix="aidc-bench-validate-") as tmp:
        root = Path(tmp)
        model = write_model(root / "mlp.onnx", seed=0, **SHAPE)
        data = write_dataset(root / "data", samples=SAMPLES, seed=0, **SHAPE)
        for i in range(args.repeats):
            # Harness, bare, harness, bare, ...: each bare run right after the harness run
            # whose batch and sample count it repeats, so both see the same load.
            h = run_harness(model, data, root / f"r{i}.json", args.min_duration_s, args.warmup_s)
            b = run_bare(model, data, h["batch"], h["samples"], args.warmup_s)
            overhead = 1 - h["throughput_per_s"] / b["throughput_per_s"]
            pairs.append({"harness": h, "bare": b, "overhead": round(overhead, 4)})
            log(
                f"repeat {i + 1}/{args.repeats}: batch {h['batch']}, harness "
                f"{h['throughput_per_s']:.0f}/s, bare {b['throughput_per_s']:.0f}/s, "
                f"overhead {overhead:+.1%}"
            )
        # The batch the search picked most often (the larger on a tie), for the paired run.
        picks = [p["harness"]["batch"] for p in pairs]
        batch = max(set(picks), key=lambda b: (picks.count(b), b))
        pair = paired(model, data, batch, args.chunks, args.chunk_s)
    median = statistics.median(p["overhead"] for p in pairs)
    paired_median = pair["median_harness_overhead"]
    result = {
        "benchmark": "validate",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in load_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "model": {**SHAPE, "samples": SAMPLES},
        "min_duration_s": args.min_duration_s,
        "repeats": pairs,
        "median_harness_per_s": statistics.median(p["harness"]["throughput_per_s"] for p in pairs),
        "median_bare_per_s": statistics.median(p["bare"]["throughput_per_s"] for p in pairs),
        "median_overhead": median,
        "paired": {"chunk_s": args.chunk_s, **pair},
        "paired_median_overhead": paired_median,
        "target": {
            "median_overhead": f"<= {TARGET}",
            "pass": median <= TARGET and paired_median <= TARGET,
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = args.out or REPO / "benchmarks" / "results" / f"{dt.date.today()}-validate.json"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
