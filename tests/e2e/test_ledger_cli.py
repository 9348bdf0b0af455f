"""Credits through the real server and CLI: a project's run uses up its hours, the
warnings reach the organisation, its next job waits with the reason in `aidc jobs --why`,
and added hours release it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from aidc.services.center import Center
from aidc.store.db import Database
from tests.integration.ledger_helpers import grant
from tests.server_process import ServerProcess


def wait_for(what: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def cli_json(server: ServerProcess, *args: str, user: str = "seojun") -> object:
    r = server.cli(*args, "--json", user=user)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_used_up_credits_hold_the_next_job_until_hours_are_added(
    start_server: Callable[..., ServerProcess], db_url: str
) -> None:
    server = start_server(env={"AIDC_METER_EVERY_S": "0.5"})
    db = Database(db_url)
    center = Center(db=db)
    try:
        # 0.0005 a100-hours: 1.8 s of one device.
        grant(center, "mirae-adas", {"a100": 0.0005}, program="gpu-voucher")
        r = server.cli(
            "submit", "-p", "mirae-adas", "--gpus", "1", "--wait", "--", "sleep", "3", user="seojun"
        )
        assert r.returncode == 0, r.stderr
        (first,) = [j for j in cli_json(server, "jobs") if j["state"] == "SUCCEEDED"]  # type: ignore[union-attr]

        (acct,) = cli_json(server, "credits")  # type: ignore[misc]
        assert acct["project"] == "mirae-adas" and acct["remaining_hours"] == 0.0
        assert acct["used_hours"] > acct["granted_hours"]  # the overrun is recorded
        entries = cli_json(server, "ledger", "--job", first["id"])
        assert isinstance(entries, list) and entries and entries[-1]["final"]
        run_s = first["finished_at"] - first["started_at"]
        assert abs(sum(e["accelerator_seconds"] for e in entries) - run_s) < 1e-6
        notes = cli_json(server, "notifications")
        assert isinstance(notes, list)
        assert sorted(n["key"].rsplit(":", 1)[1] for n in notes) == ["100", "80"]
        # Another organisation (whose own project has the demo's grant) sees none of it.
        theirs = cli_json(server, "credits", user="minji")
        assert isinstance(theirs, list) and theirs
        assert all(a["project"] == "hanbit-vision" for a in theirs)
        assert cli_json(server, "notifications", user="minji") == []
        r = server.cli("ledger", "--job", first["id"], user="minji")
        assert r.returncode == 2 and "no job" in r.stderr
        assert cli_json(server, "ledger", "--project", "mirae-adas", user="minji") == []
        # The tables people read.
        table = server.cli("credits", user="seojun").stdout
        assert "mirae-adas" in table and "gpu-voucher" in table and "hold" in table
        table = server.cli("ledger", "--job", first["id"], user="seojun").stdout
        assert "(final)" in table and "accelerator-hours" in table
        assert "has used all of its" in server.cli("notifications", user="seojun").stdout

        r = server.cli("submit", "-p", "mirae-adas", "--gpus", "1", "--", "true", user="seojun")
        assert r.returncode == 0, r.stderr
        held = r.stdout.strip()

        def waits_for_credits() -> bool:
            out = server.cli("jobs", "--why", user="seojun").stdout
            return held in out and "credits" in out

        wait_for(waits_for_credits)
        why = server.cli("jobs", "--why", user="seojun").stdout
        assert "has used" in why and "a100-hours" in why and "gpu-voucher" in why
        assert "aidc alloc change" in why
        assert (
            "waiting (credits): project mirae-adas has used"
            in server.cli("job", held, user="seojun").stdout
        )
        # A CPU-only job is never held.
        r = server.cli("submit", "-p", "mirae-adas", "--wait", "--", "true", user="seojun")
        assert r.returncode == 0, r.stderr

        # Hours added: the held job runs on a next pass.
        grant(center, "mirae-adas", {"a100": 1.0}, program="gpu-voucher-2")

        def succeeded() -> bool:
            job = cli_json(server, "job", held)
            return isinstance(job, dict) and job["state"] == "SUCCEEDED"

        wait_for(succeeded)
    finally:
        db.dispose()


def test_a_server_crash_loses_no_metered_time(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(env={"AIDC_METER_EVERY_S": "0.5"})
    r = server.cli("submit", "-p", "hanbit-vision", "--gpus", "2", "--", "sleep", "5")
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.strip()

    def metered() -> bool:
        entries = cli_json(server, "ledger", "--job", job_id, user="minji")
        return isinstance(entries, list) and len(entries) >= 2

    wait_for(metered)
    server.kill()
    server.start()

    def finished() -> bool:
        job = cli_json(server, "job", job_id, user="minji")
        return isinstance(job, dict) and job["state"] == "SUCCEEDED"

    wait_for(finished)
    job = cli_json(server, "job", job_id, user="minji")
    entries = cli_json(server, "ledger", "--job", job_id, user="minji")
    assert isinstance(job, dict) and isinstance(entries, list)
    run_s = job["finished_at"] - job["started_at"]
    assert abs(sum(e["accelerator_seconds"] for e in entries) - 2 * run_s) < 1e-6
    assert entries[-1]["final"] and sum(e["final"] for e in entries) == 1
    starts = [e["period_start"] for e in entries]
    assert starts == sorted(set(starts))  # no period twice
