"""The local engine's fork server: one small process (``local_shim.py --serve``) that
forks a job supervisor per launch, so a launch costs a pipe round trip and a fork instead
of a new interpreter. Supervisors run in their own sessions and outlive both the fork
server and the aidc server; the fork server ends when aidc closes its stdin (or dies)."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

SHIM = Path(__file__).with_name("local_shim.py")
REPLY_TIMEOUT_S = 30.0


class SpawnerGone(Exception):
    """The fork server exited; a new one is started on the next launch."""


class Spawner:
    def __init__(self, on_exit: Callable[[], None], errors: Path) -> None:
        self._on_exit = on_exit
        self._errors = errors
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[int | None] = queue.Queue()

    def spawn(self, run_dir: Path) -> int:
        """Fork a supervisor for ``run_dir``; its pid."""
        with self._lock:
            for attempt in (1, 2):
                proc = self._running()
                assert proc.stdin is not None
                try:
                    proc.stdin.write(f"{run_dir}\n".encode())
                    proc.stdin.flush()
                    pid = self._replies.get(timeout=REPLY_TIMEOUT_S)
                except (BrokenPipeError, queue.Empty):
                    pid = None
                if pid is not None:
                    return pid
                self._drop(proc)
                if attempt == 2:
                    raise SpawnerGone(f"the local fork server died; see {self._errors}")
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._drop(self._proc)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._errors.parent.mkdir(parents=True, exist_ok=True)
        with open(self._errors, "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SHIM), "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
        self._proc = proc
        self._replies = queue.Queue()
        threading.Thread(target=self._read, args=(proc, self._replies), daemon=True).start()
        return proc

    def _read(self, proc: subprocess.Popen[bytes], replies: queue.Queue[int | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"exit "):
                self._on_exit()
            elif line.strip().isdigit():
                replies.put(int(line))
        replies.put(None)  # EOF: a launch waiting for its pid learns at once
        proc.wait()
        self._on_exit()  # whatever it supervised is now on its own; look again

    def _drop(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc.poll() is None:
            proc.kill()
        if self._proc is proc:
            self._proc = None
