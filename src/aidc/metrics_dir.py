"""The folder where a server's processes keep their Prometheus metrics (multiprocess mode).

Kept apart from ``aidc.metrics`` because it must run before prometheus_client is imported:
the library picks its value store (memory or files) when it is first imported.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(home: Path) -> Path:
    """Empty ``<home>/metrics`` (a previous server's counts must not be summed in) and
    point this process and the workers it starts at it."""
    path = home / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    return path
