"""Tokens through the real CLI and server: create, use, revoke, the security log; and no
token the run used ever appears in the server's log."""

from __future__ import annotations

import json
import time

import httpx

from tests.server_process import ServerProcess

# Several API worker processes: what this module checks crosses them.
API_WORKERS = 2


def test_token_lifecycle_and_the_security_log(server: ServerProcess) -> None:
    made = server.cli("token", "create", "--name", "ci", "--ttl", "1h")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("aidc_")
    server.tokens["ci"] = secret
    assert server.cli("whoami", user="ci").returncode == 0
    listed = json.loads(server.cli("token", "list", "--json").stdout)
    ours = next(t for t in listed if t["name"] == "ci")
    assert "token" not in ours and ours["expires_at"] is not None
    revoked = server.cli("token", "revoke", str(ours["id"]))
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(1.2)  # other API workers trust a checked token for up to 1 s
    after = server.cli("whoami", user="ci")
    assert after.returncode != 0 and "revoked" in after.stderr
    other = server.cli("token", "revoke", str(ours["id"]), user="jisoo")
    assert other.returncode == 2 and "no token" in other.stderr  # not jisoo's: not found
    log = json.loads(server.cli("security-log", "--json", user="admin").stdout)
    assert {"token.issued", "token.revoked"} <= {e["action"] for e in log}
    assert server.cli("security-log", user="minji").returncode == 2


def test_no_token_shows_up_in_the_server_log(server: ServerProcess) -> None:
    # Requests with good, bad and revoked tokens; failed sign-ins with a code.
    for user in ("minji", "jisoo", "admin"):
        assert server.cli("jobs", user=user).returncode == 0
    bogus = "aidc_" + "x" * 43
    httpx.get(f"{server.url}/v1/whoami", headers={"Authorization": f"Bearer {bogus}"})
    httpx.post(
        f"{server.url}/v1/invitations/accept", json={"code": "secret-code-1", "username": "z"}
    )
    made = server.cli("token", "create").stdout.strip().splitlines()[-1]
    log = server.log()
    assert "GET /v1/" in log or "uvicorn" in log or log  # the log is being written
    for token in [*server.tokens.values(), bogus, made, "secret-code-1"]:
        assert token not in log
