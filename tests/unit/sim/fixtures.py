"""A small cluster file and a two-tenant trace for report and CLI tests."""

from __future__ import annotations

from pathlib import Path

CLUSTER = """
name = "two-nodes"
description = "2 nodes x 4 a100; vc-a holds 4 nominal, vc-b 2."

[shape]
accelerators = 4
accelerator_type = "a100"
cpus_per_accelerator = 4
memory_per_accelerator = "16G"

[[pools]]
name = "gpu"
engine = "sim"

[[nodes]]
name = "gpu"
pool = "gpu"
cpus = 16
memory = "64G"
accelerator = "a100"
count = 4
copies = 2

[[quotas]]
project = "vc-a"
nominal = { a100 = 4 }

[[quotas]]
project = "vc-b"
nominal = { a100 = 2 }
"""

# Philly CSV: timestamp, duration, num_gpus, gpu_time, cluster (the project).
ROWS = [
    ("2017-10-03 10:00:00", 600, 4, "vc-b"),
    ("2017-10-03 10:00:10", 900, 4, "vc-b"),
    ("2017-10-03 10:01:00", 300, 2, "vc-a"),
    ("2017-10-03 10:02:00", 1200, 4, "vc-a"),
    ("2017-10-03 10:02:30", 60, 1, "<script>alert(1)</script>"),
    ("2017-10-03 10:03:00", 450, 2, "vc-b"),
    ("2017-10-03 10:05:00", 100, 8, "vc-a"),
    ("2017-10-03 10:06:00", 30, 1, "vc-b"),
    ("2017-10-03 10:06:30", 700, 3, "vc-a"),
    ("2017-10-03 10:09:00", 200, 2, "vc-b"),
]


def write(folder: Path) -> tuple[Path, Path]:
    """(trace, cluster file) in ``folder``."""
    trace = folder / "trace.csv"
    lines = ["timestamp,duration,num_gpus,gpu_time,cluster"]
    lines += [f"{t},{d},{g},{d * g},{p}" for t, d, g, p in ROWS]
    trace.write_text("\n".join(lines) + "\n")
    cluster = folder / "cluster.toml"
    cluster.write_text(CLUSTER)
    return trace, cluster
