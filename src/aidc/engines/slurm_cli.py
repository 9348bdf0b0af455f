"""Running Slurm's command-line tools and reading their JSON (Slurm 22.05, openapi v0.0.38).

Every call gets a clean environment (PATH and friends, plus ``SLURM_CONF`` when configured):
nothing of the aidc server's environment reaches Slurm or, through ``sbatch``, a job. A
controller that does not answer becomes ``EngineUnavailable`` with Slurm's own message; the
22.05 tools then retry for about ``MessageTimeout`` (~9 s), so a quick TCP check of
``SlurmctldHost``/``SlurmctldPort`` from slurm.conf comes first and fails fast.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aidc.engines.base import EngineUnavailable

# Variables passed from the server's environment to Slurm's tools and so to jobs.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR", "TERM")
# Messages of a controller (or slurmdbd) that cannot be reached.
_UNREACHABLE = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "Connection refused",
    "Zero Bytes were transmitted",
    "Unable to establish",
    "Failed while looking for",
    "Unspecified error",
    "slurmdbd",
    "Connection timed out",
)
DEFAULT_TIMEOUT_S = 30.0
# How long one cluster-wide answer (squeue, sacct, sinfo) serves polls of many jobs.
SNAPSHOT_TTL_S = 0.5


class SlurmError(Exception):
    """A Slurm tool ran and refused (bad option, unknown account); the message is Slurm's."""


class SlurmCli:
    def __init__(self, conf: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.conf = conf
        self.timeout_s = timeout_s
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        conf_path = conf or os.environ.get("SLURM_CONF")
        if conf_path:
            env["SLURM_CONF"] = conf_path
        self.env = env
        self._controller = _controller_address(conf_path or "/etc/slurm/slurm.conf")
        self._lock = threading.Lock()
        # key -> (valid until, answer)
        self._cache: dict[str, tuple[float, Any]] = {}

    # -- running tools --------------------------------------------------------------------

    def run(self, args: Sequence[str], *, check_controller: bool = True) -> str:
        """Run a Slurm tool; its stdout. Raises EngineUnavailable or SlurmError."""
        if check_controller:
            self.check_controller()
        try:
            proc = subprocess.run(
                list(args),
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
            )
        except FileNotFoundError:
            raise EngineUnavailable(f"{args[0]} is not installed on the aidc host") from None
        except subprocess.TimeoutExpired:
            raise EngineUnavailable(
                f"{args[0]} did not answer within {self.timeout_s:g}s (slurmctld overloaded?)"
            ) from None
        if proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
            if any(s in message for s in _UNREACHABLE):
                raise EngineUnavailable(f"Slurm does not answer: {message}")
            raise SlurmError(message)
        return proc.stdout

    def json(self, args: Sequence[str], *, check_controller: bool = True) -> dict[str, Any]:
        """Run a tool with ``--json``; the parsed answer. 22.05 reports a controller it
        cannot reach in ``errors`` with exit status 0."""
        out = self.run(args, check_controller=check_controller)
        try:
            data = json.loads(out)
        except json.JSONDecodeError as e:
            raise SlurmError(f"{args[0]} printed no JSON ({e}): {out[:200]!r}") from None
        if not isinstance(data, dict):
            raise SlurmError(f"{args[0]} printed unexpected JSON: {out[:200]!r}")
        errors = data.get("errors") or []
        if errors:
            text = "; ".join(
                f"{e.get('source', '')}: {e.get('description') or e.get('error', '')}"
                for e in errors
                if isinstance(e, dict)
            )
            raise EngineUnavailable(f"Slurm does not answer ({args[0]}): {text}")
        return data

    def check_controller(self) -> None:
        """Fail fast when nothing listens on slurmctld's port (the tools would retry ~9 s)."""
        if self._controller is None:
            return
        host, port = self._controller
        try:
            with socket.create_connection((host, port), timeout=2.0):
                pass
        except OSError as e:
            raise EngineUnavailable(
                f"slurmctld at {host}:{port} does not answer ({e.strerror or e})"
            ) from None

    # -- cluster-wide answers, cached -----------------------------------------------------

    def cached(self, key: str, args: Sequence[str], *, check_controller: bool = True) -> Any:
        """One call's answer shared by every caller for SNAPSHOT_TTL_S, or for twice as
        long as the call took (squeue --json of thousands of jobs takes a while: polling
        must not keep slurmctld and this host busy with it)."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() < hit[0]:
                return hit[1]
        t0 = time.monotonic()
        data = self.json(args, check_controller=check_controller)
        now = time.monotonic()
        with self._lock:
            # Drop what expired (one sacct key per forgotten job would pile up).
            for k in [k for k, (until, _) in self._cache.items() if until < now]:
                del self._cache[k]
            self._cache[key] = (now + max(SNAPSHOT_TTL_S, 2 * (now - t0)), data)
        return data

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def jobs(self) -> dict[int, dict[str, Any]]:
        """squeue's view: every job slurmctld still knows (running, and ended ones for
        MinJobAge), by Slurm job id."""
        data = self.cached("squeue", ["squeue", "--json"])
        return {int(j["job_id"]): j for j in data.get("jobs", [])}

    def accounted(self, job_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """sacct's view of ``job_ids`` (from slurmdbd; works while slurmctld is down)."""
        if not job_ids:
            return {}
        ids = ",".join(str(i) for i in sorted(set(job_ids)))
        try:
            data = self.cached(
                f"sacct:{ids}", ["sacct", "--json", "-X", "-j", ids], check_controller=False
            )
        except SlurmError:
            return {}  # no accounting on this cluster: slurmctld's memory is all there is
        return {int(j["job_id"]): j for j in data.get("jobs", [])}

    def accounted_by_name(self, name: str) -> list[dict[str, Any]]:
        # -S: sacct shows only today's jobs by default.
        try:
            data = self.json(
                ["sacct", "--json", "-X", "--name", name, "-S", "2000-01-01"],
                check_controller=False,
            )
        except SlurmError:
            return []
        return [j for j in data.get("jobs", []) if j.get("name") == name]

    def nodes(self) -> list[dict[str, Any]]:
        data = self.cached("sinfo", ["sinfo", "--json"])
        nodes = data.get("nodes", [])
        return nodes if isinstance(nodes, list) else []


def _controller_address(conf: str) -> tuple[str, int] | None:
    """(address, port) of the first SlurmctldHost in ``conf``; None if it cannot be read
    (configless or include-based setups skip the quick check)."""
    try:
        text = Path(conf).read_text()
    except OSError:
        return None
    host: str | None = None
    port = 6817
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        key, _, value = line.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key in ("slurmctldhost", "controlmachine") and host is None:
            m = re.fullmatch(r"([^()\s]+)(?:\(([^)]+)\))?", value)
            if m:
                host = m.group(2) or m.group(1)
        elif key == "slurmctldport":
            # A range (6817-6818): the first port.
            digits = re.match(r"\d+", value)
            if digits:
                port = int(digits.group())
    return (host, port) if host else None


def job_state(job: dict[str, Any]) -> tuple[str, str]:
    """(state, reason) of a squeue or sacct job record."""
    state = job.get("job_state")
    if isinstance(state, str):
        return state, str(job.get("state_reason") or "")
    current = job.get("state") or {}
    if isinstance(current, dict):
        return str(current.get("current", "")), str(current.get("reason") or "")
    return str(current), ""


def exit_status(job: dict[str, Any]) -> tuple[int | None, str]:
    """(exit code, signal name) of a finished job record."""
    code = job.get("exit_code")
    if isinstance(code, dict):  # sacct: {"status", "return_code", "signal": {...}}
        rc = code.get("return_code")
        sig = code.get("signal") or {}
        name = str(sig.get("name") or "") if isinstance(sig, dict) else ""
        return (int(rc) if isinstance(rc, int) else None), name
    if isinstance(code, int):  # squeue: the wait status
        return (code >> 8) & 0xFF, ""
    return None, ""
