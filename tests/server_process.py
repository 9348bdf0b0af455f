"""A real `aidc server` process for end-to-end tests and benchmarks, and the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# The installed console script; `python -m aidc` (the same entry point) where none is installed.
_SCRIPT = shutil.which("aidc", path=str(Path(sys.executable).parent))
AIDC = [_SCRIPT] if _SCRIPT else [sys.executable, "-m", "aidc"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`aidc server --demo` on a free port with its own AIDC_HOME and database."""

    def __init__(
        self,
        home: Path,
        db_url: str,
        *,
        virtual_accelerators: str = "4xa100",
        grace_s: float = 2.0,
        workers: int = 2,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        # More AIDC_* settings for the server (e.g. AIDC_METER_EVERY_S).
        self.env = dict(env or {})
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            *AIDC,
            "server",
            "--demo",
            "--port",
            str(self.port),
            "--home",
            str(home),
            "--database-url",
            db_url,
            "--virtual-accelerators",
            virtual_accelerators,
            "--cancel-grace",
            str(grace_s),
            "--workers",
            str(workers),
            *extra_args,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.tokens: dict[str, str] = {}

    # 90 s: with the suite's two halves on two cores, one start took 31 s (CI, 2026-12-02).
    def start(self, timeout: float = 90.0) -> ServerProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "AIDC_HOME": str(self.home)}
        env.pop("AIDC_DATABASE_URL", None)
        env.update(self.env)
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aidc server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError(f"aidc server did not answer in {timeout}s:\n{self.log()}")
        data = json.loads((self.home / "demo-tokens.json").read_text())
        self.tokens = {u["username"]: u["token"] for u in data["users"]}
        return self

    def log(self) -> str:
        try:
            return (self.home / "server.log").read_text()
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the crash a restart must recover from."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        # API worker processes die with it (PDEATHSIG); don't let a restart talk to them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=0.5)
            except httpx.TransportError:
                return
            time.sleep(0.05)
        raise RuntimeError(f"something still answers on {self.url} after SIGKILL")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(
        self, *args: str, user: str = "minji", timeout: float = 60.0, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `aidc` CLI as ``user`` against this server."""
        env = {
            **os.environ,
            "AIDC_URL": self.url,
            "AIDC_TOKEN": self.tokens.get(user, user),
            "AIDC_CONFIG": str(self.home / "no-config.toml"),
            "COLUMNS": "200",
        }
        return subprocess.run(
            [*AIDC, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd
        )
