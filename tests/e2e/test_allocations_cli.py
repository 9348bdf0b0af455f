"""Allocations and invitations through the real CLI against a real server (the demo)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess

from tests.server_process import AIDC, ServerProcess


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def test_request_ask_changes_resubmit_approve(server: ServerProcess) -> None:
    today = dt.datetime.now(dt.UTC).date()
    start, end = today.isoformat(), (today + dt.timedelta(days=30)).isoformat()
    program = "2027 AI startup compute support"
    programs = {p["name"]: p for p in json.loads(ok(server.cli("program", "list", "--json")))}
    assert sorted(programs) == [program, "ai-education"]  # the demo's course has its own
    assert programs[program]["remaining_hours"] == {"a100": 78_000.0}  # the demo's grant is in

    a = json.loads(
        ok(
            server.cli(
                "alloc",
                "request",
                "-p",
                "hanbit-vision",
                "--program",
                program,
                "-j",
                "a second model",
                "--hours",
                "a100=1000",
                "--quota",
                "a100=2",
                "--start",
                start,
                "--end",
                end,
                "--json",
            )
        )
    )
    aid = str(a["id"])
    assert a["state"] == "requested" and a["requested_by"] == "minji"
    # The requester's side cannot decide; the reviewer can.
    r = server.cli("alloc", "approve", aid)
    assert r.returncode == 2 and "only reviewers" in r.stderr and "Traceback" not in r.stderr
    ok(server.cli("alloc", "ask-changes", aid, "name the datasets", user="reviewer-choi"))
    r = server.cli("alloc", "approve", aid, user="reviewer-choi")
    assert r.returncode == 2 and "changes-requested" in r.stderr
    ok(server.cli("alloc", "resubmit", aid, "--hours", "a100=800", "-m", "road-scenes v2"))
    granted = json.loads(
        ok(
            server.cli(
                "alloc",
                "approve",
                aid,
                "--hours",
                "a100=600",
                "-m",
                "start smaller",
                "--json",
                user="reviewer-choi",
            )
        )
    )
    assert granted["state"] == "active" and granted["granted_hours"] == {"a100": 600.0}

    quotas = json.loads(ok(server.cli("quota", "list", "--json", user="admin")))
    mine = {(q["owner"], q["resource"]): q["nominal"] for q in quotas}
    assert mine[("hanbit-vision", "a100")] == 4  # the demo grant's 2 and this one's 2
    table = ok(server.cli("alloc", "history", aid))
    for word in ("ask-changes", "resubmit", "approve", "activate", "reviewer-choi"):
        assert word in table
    assert "active" in ok(server.cli("alloc", "list", user="reviewer-choi"))
    # Another organisation sees none of it.
    theirs = json.loads(ok(server.cli("alloc", "list", "--json", user="seojun")))
    assert [x["project"] for x in theirs] == ["mirae-adas"]
    r = server.cli("alloc", "show", aid, user="seojun")
    assert r.returncode == 2 and "no allocation" in r.stderr


def test_invitation_accept_through_the_cli(server: ServerProcess) -> None:
    inv = json.loads(
        ok(
            server.cli(
                "org", "invite", "Hanbit Vision", "dana", "--project", "hanbit-vision", "--json"
            )
        )
    )
    assert inv["code"] and inv["status"] == "pending"
    assert "dana" in ok(server.cli("org", "invitations", "Hanbit Vision"))
    config = server.home / "dana.toml"
    env = {**os.environ, "AIDC_URL": server.url, "AIDC_CONFIG": str(config)}
    env.pop("AIDC_TOKEN", None)
    r = subprocess.run(
        [*AIDC, "join", inv["code"], "--username", "dana"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    out = ok(r)
    token = out.strip().splitlines()[-1]
    assert token.startswith("aidc_") and "Hanbit Vision" in out
    me = subprocess.run(
        [*AIDC, "whoami", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert json.loads(ok(me))["username"] == "dana"  # the saved config works
    again = subprocess.run(
        [*AIDC, "join", inv["code"], "--username", "dana"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert again.returncode == 2 and "already used" in again.stderr
    members = json.loads(ok(server.cli("org", "members", "Hanbit Vision", "--json")))
    assert {m["username"]: m["projects"] for m in members}["dana"] == ["hanbit-vision"]
    r = server.cli("org", "set-role", "Hanbit Vision", "dana", "reviewer")
    assert r.returncode == 2 and "role" in r.stderr


def test_organisations_and_programs_through_the_cli(server: ServerProcess) -> None:
    r = server.cli("org", "create", "Nuri Robotics", "--kind", "startup", user="admin")
    assert r.returncode == 2 and "registration_number" in r.stderr
    ok(
        server.cli(
            "org",
            "create",
            "Nuri Robotics",
            "--kind",
            "startup",
            "--registration-number",
            "123-45-67890",
            "--region",
            "Gwangju",
            "--sector",
            "robotics",
            user="admin",
        )
    )
    table = ok(server.cli("org", "list", user="reviewer-choi"))
    assert "Nuri Robotics" in table and "123-45-67890" in table and "Hanbit Vision" in table
    assert [o["name"] for o in json.loads(ok(server.cli("org", "list", "--json")))] == [
        "Hanbit Vision"
    ]
    r = server.cli("org", "show", "Nuri Robotics")
    assert r.returncode == 2 and "no organisation" in r.stderr
    ok(server.cli("org", "update", "Hanbit Vision", "--region", "Gwangju"))
    assert "Gwangju" in ok(server.cli("org", "show", "Hanbit Vision"))

    r = server.cli(
        "program",
        "create",
        "gpu-vouchers",
        "--start",
        "2027-01-01",
        "--end",
        "2027-12-31",
        "--budget",
        "a100=1000",
        "--max-hours",
        "h100=5",
        user="admin",
    )
    assert r.returncode == 2 and "rules.max_hours" in r.stderr
    r = server.cli(
        "program",
        "create",
        "x",
        "--start",
        "soon",
        "--end",
        "2027-12-31",
        "--budget",
        "a100=1",
        user="admin",
    )
    assert r.returncode == 2 and "--start" in r.stderr
    ok(
        server.cli(
            "program",
            "create",
            "gpu-vouchers",
            "--start",
            "2027-01-01",
            "--end",
            "2027-12-31",
            "--budget",
            "a100=1000",
            "--budget",
            "pf=50",
            "--eligible",
            "university",
            "--approvals",
            "2",
            "--on-exhausted",
            "notify",
            user="admin",
        )
    )
    p = json.loads(ok(server.cli("program", "show", "gpu-vouchers", "--json")))
    assert p["budget_hours"] == {"a100": 1000.0, "pf": 50.0} and p["required_approvals"] == 2
    assert p["eligible_kinds"] == ["university"] and p["on_exhausted"] == "notify"
    r = server.cli(
        "program",
        "create",
        "y",
        "--start",
        "2027-01-01",
        "--end",
        "2027-12-31",
        "--budget",
        "a100=1",
    )
    assert r.returncode == 2 and "center admins" in r.stderr
