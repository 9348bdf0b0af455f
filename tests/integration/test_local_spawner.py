"""The local engine's fork server starts every run it was asked for, even when the server
that asked died before reading the answers (a SIGKILL mid-launch): no run may be left with
a launch.json and no supervisor, which a restarted server could only call LOST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from aidc.engines.local_spawner import SHIM


def test_every_requested_run_starts_though_nobody_reads_the_answers(tmp_path: Path) -> None:
    runs = []
    for n in range(3):
        run = tmp_path / f"run-{n}"
        run.mkdir()
        launch = {"argv": ["true"], "cwd": str(tmp_path), "rank_envs": [{}],
                  "log": str(run / "job.log"), "time_limit_s": 60, "grace_s": 1.0}  # fmt: skip
        (run / "launch.json").write_text(json.dumps(launch))
        runs.append(run)
    exits_r, exits_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", str(SHIM), "--serve", str(exits_w)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        pass_fds=(exits_w,),
    )
    os.close(exits_w)
    os.close(exits_r)  # the asking server is gone: nobody reads what ends either
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdout.close()
    proc.stdin.write(b"".join(f"{r}\n".encode() for r in runs))
    proc.stdin.close()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all((r / "exit.json").exists() for r in runs):
        time.sleep(0.05)
    assert [json.loads((r / "exit.json").read_text())["outcome"] for r in runs] == ["succeeded"] * 3
