"""Build one cached virtualenv: ``python -m aidc.services.environment_build FOLDER``.

FOLDER (``<home>/environments/<sha256 of the requirements>``) holds ``requirements.txt``;
this writes ``venv/`` (python -m venv, then pip install -r), ``build.log`` and
``status.json`` (building -> ready | failed), last. Runs in its own process, started by
``aidc.services.environments``, so that a long pip install never holds an API worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STATUS, LOG, VENV, REQUIREMENTS = "status.json", "build.log", "venv", "requirements.txt"


def read_status(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / STATUS).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_status(folder: Path, **status: Any) -> None:
    tmp = folder / f".{STATUS}.tmp"
    tmp.write_text(json.dumps(status, sort_keys=True))
    os.replace(tmp, folder / STATUS)


def build(folder: Path) -> int:
    started = time.time()
    write_status(folder, state="building", pid=os.getpid(), started_at=started)
    with open(folder / LOG, "ab") as log:
        steps = [
            [sys.executable, "-m", "venv", str(folder / VENV)],
            [
                str(folder / VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-r",
                str(folder / REQUIREMENTS),
            ],
        ]
        for argv in steps:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            rc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
            if rc != 0:
                error = f"{argv[2]} exited with {rc}; see build.log"
                write_status(folder, state="failed", error=error, finished_at=time.time())
                return 1
    write_status(folder, state="ready", started_at=started, finished_at=time.time())
    return 0


if __name__ == "__main__":
    sys.exit(build(Path(sys.argv[1])))
