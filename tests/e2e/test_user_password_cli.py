"""`aidc user set-password` against a real server: the password then logs in to the portal."""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.server_process import AIDC, ServerProcess


def set_password(
    server: ServerProcess, user: str, stdin: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIDC_URL": server.url,
        "AIDC_TOKEN": server.tokens[user],
        "AIDC_CONFIG": str(server.home / "no-config.toml"),
    }
    return subprocess.run(
        [*AIDC, "user", "set-password", "--password-stdin", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def logs_in(server: ServerProcess, user: str, password: str) -> bool:
    r = httpx.post(
        f"{server.url}/portal/login", data={"username": user, "password": password}, timeout=10
    )
    return r.status_code == 303


def test_set_password_from_the_cli_then_log_in(server: ServerProcess) -> None:
    assert logs_in(server, "jisoo", "aidc-demo-password")  # the demo's password
    done = set_password(server, "admin", "jisoo's new password\n", "--user", "jisoo")
    assert done.returncode == 0, done.stderr
    assert logs_in(server, "jisoo", "jisoo's new password")
    assert not logs_in(server, "jisoo", "aidc-demo-password")

    wrong = set_password(server, "jisoo", "another password\nnot the current one\n")
    assert wrong.returncode == 2
    assert "current password" in wrong.stdout + wrong.stderr
    mine = set_password(server, "jisoo", "another password\njisoo's new password\n")
    assert mine.returncode == 0, mine.stderr
    assert logs_in(server, "jisoo", "another password")

    refused = set_password(server, "jisoo", "minji's password\n", "--user", "minji")
    assert refused.returncode == 2
    assert "only center admins" in refused.stdout + refused.stderr
