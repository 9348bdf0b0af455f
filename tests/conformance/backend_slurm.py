"""Slurm as a conformance backend: the dev cluster of scripts/slurm-dev (4 nodes of 4 fake
a100s, partition ``hpc``), found through AIDC_SLURM_DIR (default /tmp/aidc-slurm)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from aidc.core.resources import Node, Pool
from aidc.engines.base import Engine
from aidc.engines.slurm import SlurmEngine

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-dev"


class SlurmBackend:
    kind = "slurm"
    # slurmctld starts a job ~0.5-1 s after sbatch (backfill runs every second).
    margin_s = 5.0

    def __init__(self) -> None:
        self.dir = Path(os.environ.get("AIDC_SLURM_DIR", "/tmp/aidc-slurm"))
        self.conf = str(self.dir / "slurm.conf")
        self._homes: list[Path] = []

    def _dev(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "AIDC_SLURM_DIR": str(self.dir)}
        return subprocess.run(
            [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=90
        )

    def unavailable(self) -> str | None:
        status = self._dev("status")
        if status.returncode != 0:
            return f"no Slurm cluster in {self.dir} (run scripts/slurm-dev up): {status.stdout}"
        return None

    def engine(self, home: Path, grace_s: float) -> Engine:
        self._homes.append(home)
        return SlurmEngine(home, ["hpc"], grace_s=grace_s, conf=self.conf)

    def inventory(self, engine: Engine) -> tuple[list[Pool], list[Node]]:
        return [Pool("hpc", "slurm")], engine.inventory()

    def break_engine(self) -> None:
        self._dev("stop-controller").check_returncode()

    def repair_engine(self) -> None:
        self._dev("start-controller").check_returncode()
        # Jobs that aidc recorded LOST while slurmctld was away still run in Slurm: end
        # them, so that the next test finds the nodes as the inventory says.
        env = {**os.environ, "SLURM_CONF": self.conf}
        out = subprocess.run(["squeue", "--json"], env=env, capture_output=True, text=True)
        ours = [
            str(j["job_id"])
            for j in json.loads(out.stdout or "{}").get("jobs", [])
            if any(str(j.get("standard_output", "")).startswith(str(h)) for h in self._homes)
            and j.get("job_state") in ("PENDING", "RUNNING")
        ]
        if ours:
            subprocess.run(["scancel", *ours], env=env, check=False)
