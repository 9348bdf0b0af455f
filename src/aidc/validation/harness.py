"""The validation harness: one model, one dataset, one device; RESULT.json (schema
"aidc.validation.result/1", docs/validation.md) with every key present.

    python -m aidc.validation.harness --model M.onnx --data DIR --metric top1 \\
        --scenario single-stream --scenario offline --runtime onnxruntime --device cpu \\
        --out RESULT.json [--warmup-s 2] [--min-queries 256] [--min-duration-s 5] [--max-batch 256]
    python -m aidc.validation.harness --list-runtimes

Order: check every input, load, warm up, score the whole dataset (accuracy), then the
scenarios asked for. Bad input exits 2 with one line naming the option; RESULT.json is
written whole (a temporary file renamed) or not at all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from aidc.core import validation_stats as stats
from aidc.validation import dataset_format, model_format, scenarios
from aidc.validation import runtimes as rt
from aidc.validation.fingerprint import environment
from aidc.validation.power import NvmlMonitor

SCHEMA = "aidc.validation.result/1"
METRICS = {"top1": 1, "top5": 5}
SCENARIOS = ("single-stream", "offline")
ACCURACY_BATCH = 64


class UsageError(Exception):
    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}" if option else message)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError("", message)  # argparse names the option itself


def _number(kind: type, low: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {low:g}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m aidc.validation.harness", add_help=True)
    p.add_argument("--model", type=Path)
    p.add_argument("--data", type=Path)
    p.add_argument("--metric", choices=sorted(METRICS), default="top1")
    p.add_argument("--scenario", action="append", choices=SCENARIOS)
    p.add_argument("--runtime", default="onnxruntime")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path)
    p.add_argument("--warmup-s", type=_number(float, 0), default=2.0)
    p.add_argument("--min-queries", type=_number(int, 1), default=256)
    p.add_argument("--min-duration-s", type=_number(float, 0), default=5.0)
    p.add_argument("--max-batch", type=_number(int, 1), default=256)
    p.add_argument("--list-runtimes", action="store_true", help="the runtimes and their devices")
    return p


@dataclass
class Loaded:
    model: model_format.ModelFile
    data: dataset_format.Dataset
    session: rt.Session


def load(a: argparse.Namespace) -> Loaded:
    """Everything checked before any measurement; UsageError names the option at fault."""
    for option in ("model", "data", "out"):
        if getattr(a, option) is None:
            raise UsageError(f"--{option}", "is required")
    out_dir = a.out.resolve().parent
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        raise UsageError("--out", f"{out_dir} is not a writable folder")
    try:
        model = model_format.read(a.model)
    except model_format.ModelError as e:
        raise UsageError("--model", str(e)) from None
    try:
        data = dataset_format.load(a.data)
    except dataset_format.DatasetError as e:
        raise UsageError("--data", str(e)) from None
    try:
        model.check_sample_shape(tuple(data.inputs.shape[1:]))
    except model_format.ModelError as e:
        raise UsageError("--data", str(e)) from None
    if "single-stream" in a.scenario and model.fixed_batch not in (None, 1):
        raise UsageError(
            "--scenario", f"single-stream needs batch 1; the model's batch is {model.fixed_batch}"
        )
    try:
        runtime = rt.get_runtime(a.runtime)
    except (rt.UnknownRuntime, rt.PluginBroken) as e:
        raise UsageError("--runtime", str(e)) from None
    if a.device not in runtime.devices:
        raise UsageError(
            "--device", f"{a.runtime} serves {', '.join(runtime.devices)}, not {a.device!r}"
        )
    avail = runtime.available(a.device)
    if not avail.ok:
        raise UsageError("--device", f"{a.device} not available: {avail.reason}")
    try:
        session = runtime.load(a.model, a.device)
    except rt.RuntimeUnavailable as e:
        raise UsageError("--device", f"{a.device} not available: {e}") from None
    except Exception as e:  # the runtime refuses the model (an unsupported operator, ...)
        raise UsageError("--model", f"{a.runtime} cannot load it: {_first_line(e)}") from None
    return Loaded(model, data, session)


def measure(a: argparse.Namespace, x: Loaded, started: float) -> dict[str, Any]:
    run, inputs, fixed = x.session.run, x.data.inputs, x.model.fixed_batch
    gpu = NvmlMonitor.open() if a.device == "cuda" else None
    warm_batch = fixed or 1
    warm_calls, warm_ns = 0, 0
    if a.warmup_s > 0:
        warm_calls, warm_ns = scenarios.run_for(
            run, scenarios.batches(inputs, warm_batch), a.warmup_s, 1
        )

    k = METRICS[a.metric]
    acc_batch = fixed or min(a.max_batch, ACCURACY_BATCH)
    try:
        scores = scenarios.score_all(run, inputs, acc_batch, fixed is not None)
    except ValueError as e:
        raise UsageError("--model", str(e)) from None
    classes = scores.shape[1]
    if classes < k:
        raise UsageError("--metric", f"{a.metric} needs {k} classes; the model has {classes}")
    if int(x.data.labels.max()) >= classes:
        raise UsageError(
            "--data", f"labels.npy holds class {int(x.data.labels.max())}; the model has {classes}"
        )
    accuracy = stats.top_k_accuracy(scores, x.data.labels, k)

    results: dict[str, Any] = {}
    power_reading, power_inferences = None, 0
    if "single-stream" in a.scenario:
        if gpu is not None and "offline" not in a.scenario:
            gpu.start()
        ns = scenarios.single_stream(run, inputs, a.min_queries, a.min_duration_s)
        if gpu is not None and "offline" not in a.scenario:
            power_reading, power_inferences = gpu.stop(), len(ns)
        ms = [v / 1e6 for v in ns]
        p = stats.percentiles(ms, (50, 90, 99))
        results["single-stream"] = {
            "batch": 1,
            "queries": len(ms),
            "latencies_ms": ms,
            "p50_ms": p[50],
            "p90_ms": p[90],
            "p99_ms": p[99],
            "mean_ms": stats.mean(ms),
        }
    if "offline" in a.scenario:
        tried = scenarios.search(run, inputs, a.max_batch, fixed, a.min_duration_s / 5)
        best = stats.best_batch(tried)
        if gpu is not None:
            gpu.start()
        samples, seconds = scenarios.offline_run(run, inputs, best, a.min_queries, a.min_duration_s)
        if gpu is not None:
            power_reading, power_inferences = gpu.stop(), samples
        results["offline"] = {
            "batch": best,
            "samples": samples,
            "seconds": seconds,
            "throughput_per_s": samples / seconds,
            "search": [{"batch": b, "throughput_per_s": t} for b, t in tried],
        }

    info = x.session.info()
    peak_device = power_reading.peak_device_bytes if power_reading else None
    own_peak = getattr(x.session, "peak_device_bytes", None)
    if peak_device is None and callable(own_peak):
        peak_device = own_peak()
    power: dict[str, Any] = {
        "source": None,
        "mean_w": None,
        "energy_j": None,
        "energy_j_per_inference": None,
    }
    if power_reading is not None and power_reading.mean_w is not None:
        energy = power_reading.energy_j
        power = {
            "source": "nvml",
            "mean_w": power_reading.mean_w,
            "energy_j": energy,
            "energy_j_per_inference": energy / power_inferences if energy is not None else None,
        }
    env = environment(a.device, info, gpu)
    if gpu is not None:
        gpu.close()
    return {
        "schema": SCHEMA,
        "model": {"file": x.model.path.name, "sha256": x.model.sha256, "bytes": x.model.bytes},
        "dataset": {"sha256": x.data.sha256, "samples": x.data.samples},
        "metric": {
            "name": a.metric,
            "value": accuracy.value,
            "correct": accuracy.correct,
            "samples": accuracy.samples,
        },
        "scenarios": results,
        "warmup": {"seconds": warm_ns / 1e9, "queries": warm_calls},
        "memory": {"peak_rss_bytes": peak_rss_bytes(), "peak_device_bytes": peak_device},
        "power": power,
        "runtime": {
            "name": info.name,
            "version": info.version,
            "provider": info.provider,
            "device": info.device,
        },
        "environment": env,
        "started_at": started,
        "ended_at": time.time(),
    }


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS counts bytes


def write_atomically(path: Path, result: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_runtimes() -> None:
    for name in rt.runtime_names():
        try:
            runtime = rt.get_runtime(name)
        except rt.PluginBroken as e:
            print(f"{name}\tbroken: {e}")
            continue
        for device in runtime.devices:
            avail = runtime.available(device)
            state = "available" if avail.ok else f"not available: {avail.reason}"
            print(f"{name}\t{device}\t{state}")


def main(argv: list[str] | None = None) -> int:
    try:
        a = parser().parse_args(argv)
        if a.list_runtimes:
            list_runtimes()
            return 0
        a.scenario = list(dict.fromkeys(a.scenario or SCENARIOS))
        started = time.time()
        loaded = load(a)
        result = measure(a, loaded, started)
        write_atomically(a.out, result)
    except UsageError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted; no result written", file=sys.stderr)
        return 130
    return 0


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
