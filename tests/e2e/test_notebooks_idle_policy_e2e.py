"""The idle limit of notebook sessions comes from the policy's interactive class: a real
server and JupyterLab, a policy set through the CLI, a session culled at the class's limit
without asking for one."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.notebook_kernel import bearer
from tests.e2e.test_notebooks_e2e import client, gpus_used, nb_server, start, wait_until
from tests.server_process import ServerProcess

__all__ = ["nb_server"]  # the fixture, shared with the other notebook acceptance tests


def test_the_interactive_class_idle_limit_culls_a_session(
    nb_server: ServerProcess, tmp_path: Path
) -> None:
    server = nb_server
    policy = tmp_path / "short-idle.toml"
    policy.write_text("[classes.interactive]\nidle_s = 2\n")
    r = server.cli("policy", "set", str(policy), user="admin")
    assert r.returncode == 0, (r.stdout, r.stderr)
    refused = server.cli("notebook", "start", "-p", "hanbit-vision", "--idle", "1h", "--no-wait")
    assert refused.returncode == 2 and "idle_timeout_s" in refused.stderr, refused.stderr
    session = start(server)  # no --idle: the class's limit
    with client(server) as c:
        assert c.notebook(session).idle_timeout_s == 2
        wait_until(lambda: c.notebook(session).state == "stopped")
        nb = c.notebook(session)
        assert nb.message.startswith("culled: no kernel or terminal activity"), nb.message
        assert "(limit 2s)" in nb.message
        wait_until(lambda: c.job(nb.job_id).state == "CANCELLED")
    wait_until(lambda: gpus_used(server) == 0)
    minji = server.tokens["minji"]
    r2 = httpx.get(f"{server.url}/sessions/{session}/api/status", headers=bearer(minji))
    assert r2.status_code == 409
