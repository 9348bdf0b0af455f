"""Wake the controller soon after a run ends on a remote engine.

In-job supervisors (Slurm's, Ray's driver) append a line to one file in the shared jobs
folder when a run ends (``note_end``). The engine watches that one file's size, so it
learns of an end within ``interval_s`` at the cost of one ``stat`` however many jobs run,
instead of waiting for the controller's next tick and the engine's cached status.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

# Past this size the file is emptied; a supervisor's append after that still grows it.
MAX_BYTES = 1 << 20


class EndWatcher:
    def __init__(self, path: Path, on_change: Callable[[], None], interval_s: float = 0.1):
        self.path = path
        self._on_change = on_change
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aidc-end-watcher", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        last = self._size()
        while not self._stop.wait(self._interval_s):
            size = self._size()
            if size != last:
                last = size
                self._on_change()
                if size > MAX_BYTES:
                    with open(self.path, "r+b") as f:
                        f.truncate(0)
                    last = 0

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0
