"""The local engine's fork server: one small process (``local_shim.py --serve``) that
forks a job supervisor per launch, so a launch costs a pipe round trip and a fork instead
of a new interpreter. Supervisors run in their own sessions and outlive both the fork
server and the aidc server; the fork server ends when aidc closes its stdin (or dies)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

SHIM = Path(__file__).with_name("local_shim.py")


class Spawner:
    def __init__(self, on_exit: Callable[[], None], errors: Path) -> None:
        self._on_exit = on_exit
        self.errors = errors
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def spawn(self, run_dirs: list[Path]) -> list[int | None]:
        """Fork a supervisor for each of ``run_dirs``: their pids, in order. All requests
        go out before the first answer is read, so a batch costs about one round trip.
        None: no answer came (the fork server died); that supervisor may or may not run,
        so the caller must look for it before trying again."""
        if not run_dirs:
            return []
        with self._lock:
            proc = self._running()
            assert proc.stdin is not None and proc.stdout is not None
            pids: list[int | None] = []
            # Written and answered on this thread: no hand-off to another thread (and its
            # wait for the GIL) per launch.
            try:
                proc.stdin.write(b"".join(f"{d}\n".encode() for d in run_dirs))
                proc.stdin.flush()
                for _ in run_dirs:
                    reply = proc.stdout.readline()
                    if not reply.strip().isdigit():
                        break
                    pids.append(int(reply))
            except BrokenPipeError:
                pass
            if len(pids) < len(run_dirs):
                self._drop(proc)
            return pids + [None] * (len(run_dirs) - len(pids))

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._drop(self._proc)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.errors.parent.mkdir(parents=True, exist_ok=True)
        exits_r, exits_w = os.pipe()
        try:
            with open(self.errors, "ab") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(SHIM), "--serve", str(exits_w)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                    pass_fds=(exits_w,),
                )
        finally:
            os.close(exits_w)
        self._proc = proc
        threading.Thread(target=self._watch_exits, args=(proc, exits_r), daemon=True).start()
        return proc

    def _watch_exits(self, proc: subprocess.Popen[bytes], exits_r: int) -> None:
        with os.fdopen(exits_r, "rb") as exits:
            for _ in exits:
                self._on_exit()
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
