"""Tenant isolation on one machine (root only): each organisation's jobs run as its own
Unix user, and a job cannot read the database, the server's configuration or another
organisation's job folder; rlimits apply."""

from __future__ import annotations

import multiprocessing
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aidc.engines.local import LocalEngine
from aidc.engines.local_identity import Rlimits, user_name
from tests.conftest import local_node, skip_or_fail
from tests.integration.test_local_engine import request, wait_done

ORGS = ("Isolation Test A", "Isolation Test B")


@pytest.fixture
def home() -> Iterator[Path]:
    if os.geteuid() != 0:
        skip_or_fail("job isolation needs root (the server creates Unix users)")
    if shutil.which("useradd") is None and not os.path.exists("/usr/sbin/useradd"):
        skip_or_fail("useradd is not installed")
    # Not under pytest's tmp folder: that is root's 0700, which no job user can pass.
    path = Path(tempfile.mkdtemp(prefix="aidc-iso-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path / "home"
    shutil.rmtree(path, ignore_errors=True)


def test_jobs_cannot_read_the_database_config_or_another_orgs_folder(home: Path) -> None:
    home.mkdir()
    (home / "aidc.db").write_text("SQLite format 3 secret rows")
    (home / "inventory.toml").write_text("[[pools]] # the server's configuration")
    (home / "demo-tokens.json").write_text('{"token": "aidc_secret"}')
    engine = LocalEngine(
        home, [local_node()], grace_s=1.0, isolate=True, rlimits=Rlimits(open_files=256)
    )
    try:
        b = replace(
            request("iso-b", command=["sh", "-c", "echo beta-private > secret; id -u"]),
            organisation=ORGS[1],
        )
        hb = engine.launch(b)
        status = wait_done(engine, hb)
        assert status.outcome.value == "succeeded", status
        b_secret = home / "jobs" / "iso-b" / "work" / "secret"
        assert b_secret.read_text() == "beta-private\n"
        probe = " ; ".join(
            [
                "id -u",
                "ulimit -n",
                f"cat {home / 'aidc.db'} && echo READ-DB",
                f"cat {home / 'inventory.toml'} && echo READ-CONFIG",
                f"cat {home / 'demo-tokens.json'} && echo READ-TOKENS",
                f"cat {b_secret} && echo READ-OTHER-JOB",
                f"ls {home / 'jobs' / 'iso-b'} && echo LISTED-OTHER-JOB",
                f"ls {home} && echo LISTED-HOME",
                "echo mine > own-file && echo WROTE-OWN",
            ]
        )
        a = replace(request("iso-a", command=["sh", "-c", probe]), organisation=ORGS[0])
        ha = engine.launch(a)
        wait_done(engine, ha)
        out = engine.read_log(ha, 0, 1 << 20).decode()
        uid_a = pwd.getpwnam(user_name(ORGS[0])).pw_uid
        uid_b = pwd.getpwnam(user_name(ORGS[1])).pw_uid
        lines = out.splitlines()
        assert lines[0] == str(uid_a) and uid_a != 0 and uid_a != uid_b, out
        assert lines[1] == "256", out  # the rlimit applied
        for marker in ("READ-DB", "READ-CONFIG", "READ-TOKENS", "READ-OTHER-JOB", "LISTED"):
            assert marker not in out, out
        assert out.count("Permission denied") >= 6, out
        assert "WROTE-OWN" in out, out  # its own folder is its own
        job_a = home / "jobs" / "iso-a"
        assert job_a.stat().st_uid == uid_a and job_a.stat().st_mode & 0o777 == 0o700
        assert (home / "aidc.db").stat().st_mode & 0o077 == 0
    finally:
        engine.close()


def _ensure_in_child(organisation: str, start: Any, out: Any) -> None:
    from aidc.engines.local_identity import ensure_user

    start.wait()
    try:
        who = ensure_user(organisation)
        out.put((who.uid, who.gid))
    except Exception as e:  # the parent asserts on what each child saw
        out.put(repr(e))


def test_processes_adding_one_new_user_at_once_all_get_it(home: Path) -> None:
    """Two servers on one host (parallel test suites, a restart overlapping its old
    process) may add the same organisation's user in the same moment; none fails."""
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(3):
        organisation = f"Isolation Race {os.getpid()} {round_}"
        name = user_name(organisation)
        start, out = ctx.Barrier(6), ctx.Queue()
        children = [
            ctx.Process(target=_ensure_in_child, args=(organisation, start, out)) for _ in range(6)
        ]
        try:
            for c in children:
                c.start()
            got = [out.get(timeout=60) for _ in children]
            entry = pwd.getpwnam(name)
            assert got == [(entry.pw_uid, entry.pw_gid)] * 6, got
        finally:
            for c in children:
                c.join(timeout=10)
            subprocess.run(["userdel", name], capture_output=True)
