"""STAND-IN for vharness's `python -m aidc.validation.harness`, until that lands at merge.

It takes the contract's command line and writes a RESULT.json of the contract's shape
(schema aidc.validation.result/1) from a real ONNX Runtime session on the model and the
dataset folder, so that the service's e2e test runs a real job end to end. It measures for
real (wall-clock latencies, nearest-rank percentiles, accuracy over every sample) but is
not the harness: no MLPerf warm-up rules, no bounded search beyond a few batch sizes, no
power. Replace it by dropping AIDC_VALIDATION_HARNESS from tests/e2e/test_validation_e2e.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import socket
import sys
import time
from pathlib import Path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rank(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[max(1, math.ceil(p / 100 * len(sorted_ms))) - 1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--metric", choices=["top1", "top5"], required=True)
    ap.add_argument("--scenario", action="append", choices=["single-stream", "offline"])
    ap.add_argument("--runtime", default="onnxruntime")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-queries", type=int, default=64)
    a = ap.parse_args()
    import numpy as np
    import onnxruntime as ort

    if a.device not in ("cpu", "cuda"):
        print(f"harness: error: --device: {a.device} is not served by onnxruntime", file=sys.stderr)
        return 2
    if a.device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        print("harness: error: --device: cuda not available (no CUDAExecutionProvider)",
              file=sys.stderr)  # fmt: skip
        return 2
    started = time.time()
    model, data = Path(a.model), Path(a.data)
    x = np.load(data / "inputs.npy")
    y = np.load(data / "labels.npy")
    provider = "CUDAExecutionProvider" if a.device == "cuda" else "CPUExecutionProvider"
    sess = ort.InferenceSession(str(model), providers=[provider])
    name = sess.get_inputs()[0].name
    logits = sess.run(None, {name: x})[0]
    k = 1 if a.metric == "top1" else 5
    top = np.argsort(-logits, axis=1)[:, :k]
    correct = int(sum(int(label in row) for label, row in zip(y, top, strict=True)))
    scenarios: dict[str, object] = {}
    for _ in range(8):  # warm-up
        sess.run(None, {name: x[:1]})
    if "single-stream" in (a.scenario or []):
        lat = []
        for i in range(a.min_queries):
            t0 = time.perf_counter()
            sess.run(None, {name: x[i % len(x)][None]})
            lat.append((time.perf_counter() - t0) * 1000)
        s = sorted(lat)
        scenarios["single-stream"] = {
            "batch": 1, "queries": len(lat), "latencies_ms": lat, "p50_ms": _rank(s, 50),
            "p90_ms": _rank(s, 90), "p99_ms": _rank(s, 99), "mean_ms": sum(lat) / len(lat),
        }  # fmt: skip
    if "offline" in (a.scenario or []):
        search = []
        for batch in (1, 8, 32):
            t0 = time.perf_counter()
            n = 0
            while n < 256:
                sess.run(None, {name: x[:batch]})
                n += batch
            search.append({"batch": batch, "throughput_per_s": n / (time.perf_counter() - t0)})
        best = max(search, key=lambda r: r["throughput_per_s"])
        scenarios["offline"] = {
            "batch": best["batch"], "samples": 256, "seconds": 256 / best["throughput_per_s"],
            "throughput_per_s": best["throughput_per_s"], "search": search,
        }  # fmt: skip
    files = sorted(f"{n}\t{_sha(data / n)}" for n in ("inputs.npy", "labels.npy"))
    result = {
        "schema": "aidc.validation.result/1",
        "model": {"file": model.name, "sha256": _sha(model), "bytes": model.stat().st_size},
        "dataset": {
            "sha256": hashlib.sha256("\n".join(files).encode()).hexdigest(),
            "samples": len(y),
        },
        "metric": {
            "name": a.metric,
            "value": correct / len(y),
            "correct": correct,
            "samples": len(y),
        },
        "scenarios": scenarios,
        "warmup": {"seconds": 0.0, "queries": 8},
        "memory": {
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "peak_device_bytes": None,
        },
        "power": {
            "source": None,
            "mean_w": None,
            "energy_j": None,
            "energy_j_per_inference": None,
        },
        "runtime": {
            "name": "onnxruntime",
            "version": ort.__version__,
            "provider": provider,
            "device": a.device,
        },
        "environment": {
            "node": socket.gethostname(),
            "os": platform.platform(),
            "python": platform.python_version(),
            "accelerator": {
                "type": os.environ.get("AIDC_ACCELERATOR_TYPE", a.device),
                "model": platform.processor() or "cpu",
                "driver": None,
            },
            "libraries": {"onnxruntime": ort.__version__, "numpy": np.__version__},
        },
        "started_at": started,
        "ended_at": time.time(),
    }
    Path(a.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
