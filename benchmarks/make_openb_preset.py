"""Write src/aidc/sim/presets/alibaba-openb.toml from Alibaba's 2023 GPU node list.

Run once (the TOML is committed as package data; the CSV is not copied):

    .venv/bin/python benchmarks/make_openb_preset.py [openb_node_list_gpu_node.csv]

The CSV (``sn,cpu_milli,memory_mib,gpu,model``) is read from ``../shared/traces`` by
default. Identical nodes (same cores, memory, GPU count and model) become one entry with
``copies``; model names are lower-cased to aidc's accelerator types (``V100M16`` ->
``v100m16``).
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared/traces/alibaba_gpu_v2023/openb_node_list_gpu_node.csv"
OUT = ROOT / "src/aidc/sim/presets/alibaba-openb.toml"

HEAD = '''# Alibaba PAI GPU cluster 2023 ("Beware of Fragmentation", ATC'23): its node list
# openb_node_list_gpu_node.csv, {nodes:,} nodes and {gpus:,} GPUs of {models} models, grouped
# into identical nodes. Written by benchmarks/make_openb_preset.py; do not edit by hand.
# GPU models as in the trace, lower-cased: G2 and G3 are anonymised by Alibaba (their
# catalog entries have no memory or peak figures). A pod is one node's worth at most; the
# shape (used by the other trace formats on this cluster) accepts any GPU type.
name = "alibaba-openb"
description = """
Alibaba PAI 2023 (openb): {nodes:,} GPU nodes, {gpus:,} GPUs of {models} models in one pool,
as the trace's node list. GPUs by model:
{mix}.
G2 and G3 are anonymised models. No quotas: the trace has no tenants (its pods' qos classes
are the projects).
"""

[shape]
accelerators = 8
accelerator_type = ""
cpus_per_accelerator = 4
memory_per_accelerator = "16G"

[[pools]]
name = "openb"
engine = "sim"
'''


def main(path: Path = CSV) -> None:
    with path.open(newline="") as f:
        groups = Counter(
            (int(r["cpu_milli"]) // 1000, int(r["memory_mib"]), int(r["gpu"]), r["model"])
            for r in csv.DictReader(f)
        )
    per_model: Counter[str] = Counter()
    for (_, _, gpus, model), n in groups.items():
        per_model[model] += gpus * n
    text = HEAD.format(
        nodes=sum(groups.values()),
        gpus=sum(per_model.values()),
        models=len(per_model),
        mix=", ".join(f"{m} {n:,}" for m, n in sorted(per_model.items())),
    )
    for (cpus, memory, gpus, model), n in sorted(groups.items(), key=lambda g: (g[0][3], g[0])):
        kind = model.lower()
        text += (
            f'\n[[nodes]]\nname = "{kind}-{gpus}g-{cpus}c-{memory // 1024}g"\npool = "openb"\n'
            f'cpus = {cpus}\nmemory = {memory}\naccelerator = "{kind}"\ncount = {gpus}\n'
            f"copies = {n}\n"
        )
    OUT.write_text(text)
    print(f"wrote {OUT}: {len(groups)} entries")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CSV)
