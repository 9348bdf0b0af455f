"""The generated model and dataset, once per session, and a way to run the real harness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.validation_models import write_dataset, write_model

# Short, so that the suite stays lean: the minimums are what is tested, not the numbers.
QUICK = [
    "--warmup-s",
    "0.05",
    "--min-queries",
    "40",
    "--min-duration-s",
    "0.1",
    "--max-batch",
    "32",
]


@dataclass(frozen=True)
class Files:
    model: Path
    data: Path
    folder: Path


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("validation")
    return Files(write_model(folder / "model.onnx"), write_dataset(folder / "data"), folder)


def harness(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aidc.validation.harness", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, **(env or {})),
    )


def run_ok(
    files: Files, out: Path, *extra: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    p = harness("--model", files.model, "--data", files.data, "--out", out, *QUICK, *extra, env=env)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    return result
