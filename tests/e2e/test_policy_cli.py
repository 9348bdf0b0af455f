"""Acceptance: the scheduling policy through the real CLI and server, changed without restart."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.server_process import AIDC, ServerProcess, free_port

NIGHT = 'preset = "sjf"\n[weights]\nage = 50\n[backfill]\nreservations = 2\n'


def shown(server: ServerProcess, user: str = "jisoo") -> dict[str, Any]:
    r = server.cli("policy", "show", "--json", user=user)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def test_admins_set_the_policy_everyone_reads_it_without_restart(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    at_start = tmp_path / "start.toml"
    at_start.write_text('preset = "fifo"\n')
    server = start_server(extra_args=("--policy", str(at_start)))
    first = shown(server)  # a member reads it
    assert (first["version"], first["preset"]) == (1, "fifo")
    assert first["set_by"] == "aidc server --policy start.toml"
    assert first["effective"]["backfill"]["enabled"] is False

    night = tmp_path / "night.toml"
    night.write_text(NIGHT)
    r = server.cli("policy", "set", str(night), user="admin")
    assert r.returncode == 0, r.stderr
    assert "policy version 2 (preset sjf) is in effect" in r.stdout
    now = shown(server)
    assert (now["version"], now["text"], now["set_by"]) == (2, NIGHT, "admin")
    assert now["effective"]["ordering"] == "sjf"
    assert now["effective"]["weights"]["age"] == 50
    assert now["effective"]["backfill"] == {"enabled": True, "reservations": 2}

    r = server.cli("policy", "preset", "fairshare", user="admin")
    assert r.returncode == 0, r.stderr
    assert shown(server)["effective"]["ordering"] == "priority"

    # `show` prints the whole policy as TOML: a file to edit and set again.
    r = server.cli("policy", "show", user="minji")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# policy version 3, set ")
    assert "[weights]\n" in r.stdout and "[classes.interactive]\n" in r.stdout
    edited = tmp_path / "edited.toml"
    edited.write_text(r.stdout.replace("reservations = 1", "reservations = 7"))
    assert server.cli("policy", "set", str(edited), user="admin").returncode == 0
    assert shown(server)["effective"]["backfill"]["reservations"] == 7


def test_tenants_and_bad_files_are_refused_naming_why(
    server: ServerProcess, tmp_path: Path
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(NIGHT)
    for user, args in (
        ("jisoo", ("set", str(good))),  # member
        ("minji", ("preset", "sjf")),  # org admin
    ):
        r = server.cli("policy", *args, user=user)
        assert r.returncode == 2, (user, r.stdout, r.stderr)
        assert "only center admins change the scheduling policy" in r.stderr

    bad = tmp_path / "bad.toml"
    bad.write_text("[weights]\nage = -1\nagee = 2\n")
    r = server.cli("policy", "set", str(bad), user="admin")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # one line per key at fault
    assert lines[0].startswith("error: weights.age: must be >= 0 (got -1)")
    assert "weights.agee: is not a known key; did you mean 'age'?" in lines[1]
    bad.write_text("[weights\n")
    r = server.cli("policy", "set", str(bad), user="admin")
    assert r.returncode == 2 and "toml: not valid TOML" in r.stderr and "line 1" in r.stderr
    r = server.cli("policy", "preset", "lottery", user="admin")
    assert r.returncode == 2 and "preset: unknown preset 'lottery'" in r.stderr
    r = server.cli("policy", "set", str(tmp_path / "missing.toml"), user="admin")
    assert r.returncode == 2 and "cannot read" in r.stderr
    assert shown(server)["version"] == 0  # nothing was stored

    # The API itself: exactly one of toml or preset.
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    both = httpx.put(
        f"{server.url}/v1/policy", json={"toml": NIGHT, "preset": "sjf"}, headers=headers
    )
    assert both.status_code == 422 and both.json()["fields"][0]["field"] == "toml"
    one = httpx.put(f"{server.url}/v1/policy", json={"preset": "fifo"}, headers=headers)
    assert one.status_code == 200 and one.json()["preset"] == "fifo"


def test_a_bad_policy_file_stops_the_server_before_it_starts(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("[backfill]\nreservations = 0\n[placement]\nstrategy = 'scatter'\n")
    home = tmp_path / "home"
    r = subprocess.run(
        [*AIDC, "server", "--home", str(home), "--port", str(free_port()), "--policy", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert f"--policy {bad}: backfill.reservations: must be >= 1 (got 0)" in r.stderr
    assert f"--policy {bad}: placement.strategy: must be one of" in r.stderr
    assert not home.exists()  # nothing was started or created
