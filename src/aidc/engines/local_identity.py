"""Per-organisation Unix users for the local engine (``[engines.local] isolate``).

``isolate = "auto"`` (the default) isolates when the server runs as root; ``true`` demands
root (a clear configuration error otherwise); ``false`` lets jobs share the server's
identity. When isolating, each organisation's jobs run as its own unprivileged user,
``aidc-o`` and ten hex digits of the organisation name's SHA-256 (names stay valid and
under 32 characters whatever the organisation is called), created here with ``useradd``
on first use. The supervisor (root) starts each rank with that user and group and no
supplementary groups; the job's folder is the user's, mode 0700, so other organisations'
jobs cannot enter it; aidc's home, database and configuration are root's and closed.
Optional rlimits (processes, open files, address space) apply to every rank.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aidc.core.units import parse_memory_mib
from aidc.engines.base import LaunchError, LaunchRequest
from aidc.engines.registry import EngineConfigError

NOLOGIN = next(
    (p for p in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(p)), "/bin/false"
)
_create_lock = threading.Lock()
_ADD_TRIES = 5
_HOST_LOCK = (
    "/run/lock/aidc-accounts.lock" if os.path.isdir("/run/lock") else "/tmp/aidc-accounts.lock"
)
_Entry = TypeVar("_Entry")


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
    return resolve_isolate(options.get("isolate", "auto")), rlimits_from_options(options)


def resolve_isolate(value: object) -> bool:
    """``"auto"``: isolate when the server runs as root; ``true`` and ``false`` as given."""
    if value == "auto":
        return os.geteuid() == 0
    if not isinstance(value, bool):
        raise ValueError(f'engines.local.isolate: "auto", true or false, not {value!r}')
    return value


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


def dataset_group(dataset: str) -> str:
    return "aidc-d" + hashlib.sha256(dataset.encode()).hexdigest()[:10]


def ensure_user(organisation: str) -> Identity:
    """The organisation's Unix user, created (a system user, no home, no login) if new."""
    name = user_name(organisation)
    comment = f"aidc jobs of {organisation}"[:60]
    entry = _ensure(pwd.getpwnam, name, "useradd", "--user-group", "--no-create-home",
                    "--shell", NOLOGIN, "--comment", comment, name)  # fmt: skip
    return Identity(name, entry.pw_uid, entry.pw_gid)


def ensure_group(name: str) -> int:
    return int(_ensure(grp.getgrnam, name, "groupadd", name).gr_gid)


def _ensure(lookup: Callable[[str], _Entry], name: str, tool: str, *args: str) -> _Entry:
    """The account ``name``, added with ``tool`` if it does not exist. Other processes on
    this host (API workers, a second server, a restart overlapping its old process) may
    add the same account at the same moment, and two ``useradd`` runs racing can both
    succeed, leaving two entries of one name with different ids: a host-wide lock file
    serialises look-up-then-add, and a busy passwd lock (another tool) is retried."""
    with _create_lock, open(_HOST_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for attempt in range(_ADD_TRIES):
            try:
                return lookup(name)
            except KeyError:
                pass
            try:
                _add(tool, *args)
            except IdentityError:
                if attempt == _ADD_TRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return lookup(name)


def _add(tool: str, *args: str) -> None:
    """``useradd`` or ``groupadd`` a system account; IdentityError says why not."""
    if os.geteuid() != 0:
        raise IdentityError("job isolation needs the server to run as root")
    path = shutil.which(tool) or f"/usr/sbin/{tool}"
    r = subprocess.run([path, "--system", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise IdentityError(f"{tool} {args[-1]} failed: {r.stderr.strip()}")


def dataset_groups(view: Path) -> list[int]:
    """Make the files a run's dataset view links to readable by runs that mount them
    alone: each dataset's files belong to its own group (``aidc-d`` + 10 hex digits of
    the name's SHA-256), mode 0440, and the run gets the groups of the datasets it mounts
    as supplementary groups. Runs of other organisations, or of projects without a grant,
    cannot read the store's files even knowing their paths."""
    gids: list[int] = []
    if not view.is_dir():
        return gids
    for dataset in sorted(view.iterdir()):
        try:
            gid = ensure_group(dataset_group(dataset.name))
        except IdentityError as e:
            raise LaunchError(str(e)) from None
        for folder, _dirs, files in os.walk(dataset):
            for name in files:
                target = os.path.realpath(os.path.join(folder, name))
                os.chown(target, -1, gid)
                os.chmod(target, 0o440)
        gids.append(gid)
    return gids


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


# Folders of aidc's home that jobs pass through (never list) to reach their own: job and
# checkpoint folders, notebook sessions' folders, the shared environment virtualenvs and
# the datasets they mount.
# Dataset files (a local store's, or the cache of an object store's) are each dataset's
# group's (dataset_groups), so that passing through reads nothing without the group.
# The Slurm and Ray engines' job folders (``slurm``, ``ray``) are theirs to protect.
PASSABLE = ("jobs", "checkpoints", "notebooks", "environments", "datasets", "dataset-cache")
OTHER_ENGINES = ("slurm", "ray")


def session_folder(home: Path, job: LaunchRequest) -> Path | None:
    """A notebook session's folder when the job is that session's (it works in
    ``<home>/notebooks/<id>/work`` and is named ``notebook-<id>``): made by the server, it
    holds the session's token, which the job's user must read."""
    if not job.spec.workdir:
        return None
    work = Path(job.spec.workdir)
    session = work.parent
    if work.name != "work" or session.parent != home / "notebooks":
        return None
    return session if job.spec.name == f"notebook-{session.name}" else None


def give_session(folder: Path, who: Identity) -> None:
    """A notebook session's folder (its token and ``work/``) to the session job's user;
    refused when another organisation's user already has it (a job naming someone
    else's session)."""
    owner = folder.stat().st_uid
    if owner not in (0, who.uid):
        raise LaunchError(f"workdir {folder / 'work'} belongs to another organisation's session")
    own_private(folder, who)
    for entry in folder.iterdir():
        if entry.is_symlink():
            continue
        os.chown(entry, who.uid, who.gid)
        os.chmod(entry, 0o700 if entry.is_dir() else 0o600)


def close_home(home: Path) -> None:
    """aidc's home: others may pass through to their job folders, but list and read
    nothing (the database, logs, tokens and configuration are root's, 0600 or 0700)."""
    if os.geteuid() != 0:
        raise EngineConfigError(
            "engines.local.isolate = true: the server must run as root to run jobs as "
            'their organisations\' users; set isolate = "auto" or false'
        )
    check_passable(home)
    for name in PASSABLE:
        (home / name).mkdir(exist_ok=True)
    close_entries(home)


def close_entries(home: Path) -> None:
    """The modes ``close_home`` sets, again (before each batch of launches: a folder made
    since, say ``traces/`` on a first upload, is 0755 by default)."""
    os.chmod(home, 0o711)
    for entry in home.iterdir():
        if entry.name in OTHER_ENGINES:
            continue
        # The server works in its home meanwhile: a file may be gone since iterdir.
        with contextlib.suppress(FileNotFoundError):
            if entry.name in PASSABLE:
                os.chmod(entry, 0o711)
            elif entry.is_dir() and not entry.is_symlink():
                os.chmod(entry, 0o700)
            elif entry.is_file() and not entry.is_symlink():
                os.chmod(entry, 0o600)


def check_passable(home: Path) -> None:
    """Every folder above aidc's home must let other users pass (``o+x``): jobs run as
    their organisations' users and reach their folders through it. So must the folders of
    the server's Python, which notebook sessions run and environments' virtualenvs link
    to. aidc does not open folders it does not own; it says which one to open."""
    python = Path(os.path.realpath(sys.executable))
    for what, target, choose in (
        ("aidc's home", home.resolve(), "choose an AIDC_HOME whose parent folders others may pass"),
        ("the server's Python", python, "install aidc with a Python others may run"),
    ):
        for parent in target.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise EngineConfigError(
                    f"engines.local.isolate: jobs run as their organisations' users, who "
                    f"cannot pass through {parent} (mode {mode & 0o777:o}) to {what} "
                    f"{target}; run `chmod o+x {parent}`, {choose}, or set isolate = false"
                )
