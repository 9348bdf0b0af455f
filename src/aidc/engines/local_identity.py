"""Per-organisation Unix users for the local engine (``[engines.local] isolate = true``).

When the server runs as root, each organisation's jobs run as its own unprivileged user,
``aidc-o`` and ten hex digits of the organisation name's SHA-256 (names stay valid and
under 32 characters whatever the organisation is called), created here with ``useradd``
on first use. The supervisor (root) starts each rank with that user and group and no
supplementary groups; the job's folder is the user's, mode 0700, so other organisations'
jobs cannot enter it; aidc's home, database and configuration are root's and closed.
Optional rlimits (processes, open files, address space) apply to every rank.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from aidc.core.units import parse_memory_mib
from aidc.engines.base import LaunchError
from aidc.engines.registry import EngineConfigError

NOLOGIN = next(
    (p for p in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(p)), "/bin/false"
)
_create_lock = threading.Lock()


class IdentityError(RuntimeError):
    pass


@dataclass(frozen=True)
class Identity:
    user: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Rlimits:
    """Per-rank resource limits; None leaves the server's own."""

    processes: int | None = None  # RLIMIT_NPROC
    open_files: int | None = None  # RLIMIT_NOFILE
    address_space_mib: int | None = None  # RLIMIT_AS

    def as_launch(self) -> dict[str, int]:
        out = {}
        if self.processes:
            out["nproc"] = self.processes
        if self.open_files:
            out["nofile"] = self.open_files
        if self.address_space_mib:
            out["as"] = self.address_space_mib * 1024 * 1024
        return out


OPTIONS = ("isolate", "max_processes", "max_open_files", "max_address_space")


def engine_options(options: dict[str, object]) -> tuple[bool, Rlimits]:
    """``[engines.local]``: isolation and rlimits; ValueError names the option at fault."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(
            f"engines.local.{unknown[0]}: the local engine has no such option "
            f"(it has {', '.join(OPTIONS)})"
        )
    isolate = options.get("isolate", False)
    if not isinstance(isolate, bool):
        raise ValueError("engines.local.isolate: true or false")
    return isolate, rlimits_from_options(options)


def rlimits_from_options(options: dict[str, object]) -> Rlimits:
    mem = options.get("max_address_space")
    return Rlimits(
        processes=_int(options.get("max_processes"), "max_processes"),
        open_files=_int(options.get("max_open_files"), "max_open_files"),
        address_space_mib=parse_memory_mib(str(mem)) if mem is not None else None,
    )


def _int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"engines.local.{name}: a whole number above 0, not {value!r}")
    return value


def user_name(organisation: str) -> str:
    return "aidc-o" + hashlib.sha256(organisation.encode()).hexdigest()[:10]


def ensure_user(organisation: str) -> Identity:
    """The organisation's Unix user, created (a system user, no home, no login) if new."""
    name = user_name(organisation)
    with _create_lock:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            if os.geteuid() != 0:
                raise IdentityError("job isolation needs the server to run as root") from None
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            r = subprocess.run(
                [
                    useradd,
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    NOLOGIN,
                    "--comment",
                    f"aidc jobs of {organisation}"[:60],
                    name,
                ],
                capture_output=True,
                text=True,
            )
            if r.returncode != 0:
                raise IdentityError(f"useradd {name} failed: {r.stderr.strip()}") from None
            entry = pwd.getpwnam(name)
    return Identity(name, entry.pw_uid, entry.pw_gid)


def take_folders(organisation: str, *folders: Path) -> Identity:
    """The organisation's user, made the sole owner of a job's ``folders``."""
    try:
        who = ensure_user(organisation or "unknown")
    except IdentityError as e:
        raise LaunchError(str(e)) from None
    for path in folders:
        own_private(path, who)
    return who


def own_private(path: Path, who: Identity) -> None:
    """``path`` belongs to ``who`` alone (0700)."""
    os.chown(path, who.uid, who.gid)
    os.chmod(path, 0o700)


def close_home(home: Path) -> None:
    """aidc's home: others may pass through to their job folders, but list and read
    nothing (the database, logs, tokens and configuration are root's, 0600 or 0700)."""
    if os.geteuid() != 0:
        raise EngineConfigError("engines.local.isolate: the server must run as root")
    os.chmod(home, 0o711)
    for entry in home.iterdir():
        if entry.name in ("jobs", "checkpoints"):
            os.chmod(entry, 0o711)
        elif entry.is_dir() and not entry.is_symlink():
            os.chmod(entry, 0o700)
        elif entry.is_file() and not entry.is_symlink():
            os.chmod(entry, 0o600)
