"""Acceptance: a real JupyterLab started through the scheduler on the local engine, reached
only through aidc's proxy, by its owner only; culled when idle; stopped and restarted."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from aidc.client import Client
from aidc.core.accelerators import CATALOG
from tests.e2e.notebook_kernel import bearer, execute, need_jupyterlab, start_kernel, ws_status
from tests.server_process import ServerProcess


@pytest.fixture
def nb_server(
    start_server: Callable[..., ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    need_jupyterlab()
    monkeypatch.setenv("AIDC_NOTEBOOK_CHECK_S", "0.2")
    server = start_server()
    yield server
    # Jobs outlive their server by design: stop every session's JupyterLab before it goes.
    with client(server, "admin") as c:
        for nb in c.notebooks(active=True):
            c.stop_notebook(nb.id)
        for nb in c.notebooks():
            wait_until(lambda nb=nb: c.job(nb.job_id).state.is_terminal)


def client(server: ServerProcess, user: str = "minji") -> Client:
    return Client(server.url, server.tokens[user])


def start(server: ServerProcess, *args: str) -> str:
    """`aidc notebook start` through the real CLI; the session id from the link it prints."""
    r = server.cli(
        "notebook", "start", "-p", "hanbit-vision", "--gpus", "1", "--gpu-type", "a100", *args
    )
    assert r.returncode == 0, (r.stdout, r.stderr, server.log()[-3000:])
    assert "ready" in r.stderr
    link = r.stdout.strip().removeprefix("open ")
    assert link.startswith(f"{server.url}/sessions/") and "?ticket=" in link
    return link.split("/sessions/", 1)[1].split("/", 1)[0]


def wait_until(pred: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def gpus_used(server: ServerProcess) -> int:
    with client(server, "admin") as c:
        return sum(n.accelerators_used for n in c.nodes())


def test_code_runs_in_a_kernel_through_the_proxy_and_only_the_owner_gets_in(
    nb_server: ServerProcess,
) -> None:
    server = nb_server
    session = start(server)
    minji = server.tokens["minji"]
    kernel = start_kernel(server.url, session, minji)
    assert execute(server.url, session, kernel, "print(6 * 7)", bearer(minji)) == "42\n"

    # The page JupyterLab renders never carries its token to the browser.
    with client(server) as c:
        secretless = httpx.get(f"{server.url}/sessions/{session}/lab", headers=bearer(minji))
        assert secretless.status_code == 200 and '"token": ""' in secretless.text
        # A browser logs in with the link's ticket and then uses the cookie alone.
        browser = httpx.Client(base_url=server.url, follow_redirects=True)
        r = browser.get(c.notebook_link(session).removeprefix(server.url))
        assert r.status_code == 200 and r.url.path == f"/sessions/{session}/lab"
        assert browser.get(f"/sessions/{session}/api/kernels").json()[0]["id"] == kernel
        nb = c.notebook(session)
        assert nb.state == "ready"

    # Another organisation's user: 403 on every path of the session, HTTP and WebSocket,
    # exactly as for a session that does not exist.
    seojun = bearer(server.tokens["seojun"])
    paths = [
        "",
        "lab",
        "tree",
        "api/status",
        "api/kernels",
        f"api/kernels/{kernel}",
        "api/contents",
        "api/terminals",
        "static/lab/index.js",
        "lab/api/settings",
        "files/anything.txt",
    ]
    for path in paths:
        for method in ("GET", "POST", "PUT", "DELETE"):
            for sid in (session, "0123456789abcdef"):
                r = httpx.request(method, f"{server.url}/sessions/{sid}/{path}", headers=seojun)
                assert r.status_code == 403, (method, sid, path, r.status_code, r.text)
    ws = f"/sessions/{session}/api/kernels/{kernel}/channels"
    assert ws_status(server.url, ws, seojun) == 403
    assert ws_status(server.url, "/sessions/0123456789abcdef/api/events/subscribe", seojun) == 403
    assert ws_status(server.url, ws, {}) == 403
    assert httpx.get(f"{server.url}/sessions/{session}/api/status").status_code == 401
    # A cookie of this session signed by someone else's guess, or another user's ticket.
    forged = {"Cookie": f"aidc_notebook=2.9999999999.{'0' * 64}"}
    assert (
        httpx.get(f"{server.url}/sessions/{session}/api/status", headers=forged).status_code == 403
    )
    with client(server, "seojun") as c:
        with pytest.raises(Exception) as hidden:
            c.notebook(session)
        assert getattr(hidden.value, "status", None) == 404
    # The owner still gets in after all that.
    assert execute(server.url, session, kernel, "print('still mine')", bearer(minji)) == (
        "still mine\n"
    )

    r = server.cli("notebook", "stop", session)
    assert r.returncode == 0 and "stopped" in r.stdout
    wait_until(lambda: gpus_used(server) == 0)
    with client(server) as c:
        job = c.job(c.notebook(session).job_id)
    assert job.state == "CANCELLED"
    assert (
        httpx.get(f"{server.url}/sessions/{session}/api/status", headers=bearer(minji)).status_code
        == 409
    )


def test_an_idle_session_is_culled_and_its_gpu_freed_but_not_while_a_kernel_works(
    nb_server: ServerProcess,
) -> None:
    server = nb_server
    session = start(server, "--idle", "3s")
    minji = server.tokens["minji"]
    assert gpus_used(server) == 1
    kernel = start_kernel(server.url, session, minji)
    # Busy for longer than the idle limit: a working kernel is activity.
    code = "import time; time.sleep(6); print('done')"
    assert execute(server.url, session, kernel, code, bearer(minji)) == "done\n"
    with client(server) as c:
        assert c.notebook(session).state == "ready"
        wait_until(lambda: c.notebook(session).state == "stopped")
        nb = c.notebook(session)
        assert nb.message.startswith("culled: no kernel or terminal activity"), nb.message
        wait_until(lambda: c.job(nb.job_id).state == "CANCELLED")
    wait_until(lambda: gpus_used(server) == 0)
    r = httpx.get(f"{server.url}/sessions/{session}/api/status", headers=bearer(minji))
    assert r.status_code == 409


def assert_metered_like_a_job(c: Client, job_id: str) -> None:
    """The ended run of a session is in the usage ledger through the same path as a batch
    job's: its final entries sum to its run time x 1 a100, with the a100's PF-hours and
    the project's credits debited."""
    job = c.job(job_id)
    assert job.started_at is not None and job.finished_at is not None
    entries = c.ledger(job=job_id)
    assert entries and entries[-1].final, entries
    assert {(e.accelerator_type, e.devices, e.project) for e in entries} == {
        ("a100", 1, "hanbit-vision")
    }
    seconds = sum(e.accelerator_seconds for e in entries)
    assert math.isclose(seconds, job.finished_at - job.started_at, rel_tol=1e-6), seconds
    pf_hours = sum(e.pf_hours for e in entries)
    assert math.isclose(pf_hours, seconds / 3600 * CATALOG["a100"].peak_pf, rel_tol=1e-6)
    assert all(e.credit_account_id is not None for e in entries)
    assert math.isclose(sum(e.credits for e in entries), seconds / 3600, rel_tol=1e-6)


def test_restart_runs_a_fresh_jupyterlab_under_the_same_url(nb_server: ServerProcess) -> None:
    server = nb_server
    session = start(server)
    minji = server.tokens["minji"]
    kernel = start_kernel(server.url, session, minji)
    execute(server.url, session, kernel, "open('kept.txt', 'w').write('x')", bearer(minji))
    with client(server) as c:
        first_job = c.notebook(session).job_id
    r = server.cli("notebook", "restart", session)
    assert r.returncode == 0, r.stderr
    assert "ready" in r.stdout
    with client(server) as c:
        nb = c.notebook(session)
        assert nb.restarts == 1 and nb.previous_jobs == [first_job] and nb.job_id != first_job
        assert c.job(first_job).state == "CANCELLED"
        assert_metered_like_a_job(c, first_job)
    kernel = start_kernel(server.url, session, minji)
    # Same files (the session's folder), new JupyterLab, new token, same proxy URL.
    code = "print(open('kept.txt').read())"
    assert execute(server.url, session, kernel, code, bearer(minji)) == "x\n"
    listing = server.cli("notebook", "list")
    assert session in listing.stdout and "ready" in listing.stdout
    shown = server.cli("notebook", "show", session)
    assert shown.returncode == 0 and "restarts 1" in shown.stdout, shown.stdout
    opened = server.cli("notebook", "open", session)
    assert opened.stdout.strip().startswith(f"{server.url}/sessions/{session}/?ticket=")
    foreign = server.cli("notebook", "open", session, user="seojun")
    assert foreign.returncode == 2 and "no notebook session" in foreign.stderr


def test_a_session_stops_at_its_maximum_lifetime(nb_server: ServerProcess) -> None:
    server = nb_server
    r = server.cli("notebook", "start", "-p", "hanbit-vision", "--time", "8s", "--no-wait")
    assert r.returncode == 0, r.stderr
    session = r.stdout.split()[1].rstrip(":")
    with client(server) as c:
        wait_until(lambda: c.notebook(session).state == "stopped", 60)
        nb = c.notebook(session)
        assert nb.message == "reached its maximum lifetime (8s)", nb.message
        assert c.job(nb.job_id).state == "FAILED"


def test_environments_through_the_cli_are_recorded_on_jobs(nb_server: ServerProcess) -> None:
    server = nb_server
    r = server.cli("env", "create", "hpc", "--module", "cuda/12.4")
    assert r.returncode == 0 and "environment hpc: none" in r.stdout, r.stderr
    r = server.cli("env", "create", "boxed", "--image", "nvcr.io/x:1")
    assert r.returncode == 0 and "nvcr.io/x:1" in server.cli("env", "show", "boxed").stdout
    assert "hpc" in server.cli("env", "list").stdout
    assert "cuda/12.4" in server.cli("env", "show", "hpc").stdout
    assert server.cli("env", "show", "hpc", user="seojun").returncode == 2
    job = server.cli(
        "submit",
        "-p",
        "hanbit-vision",
        "--environment",
        "hpc",
        "--wait",
        "--",
        "sh",
        "-c",
        "echo $AIDC_ENVIRONMENT_MODULES",
    )
    assert job.returncode == 0, job.stderr
    job_id = job.stdout.split()[0]
    shown = server.cli("job", job_id)
    assert "environment hpc" in shown.stdout, shown.stdout
    assert server.cli("logs", job_id).stdout.strip() == "cuda/12.4"
    # The local engine runs no containers: a job naming an image fails, never runs outside it.
    boxed = server.cli("submit", "-p", "hanbit-vision", "--environment", "boxed", "--", "true")
    with client(server) as c:
        boxed_id = boxed.stdout.split()[0]
        wait_until(lambda: c.job(boxed_id).state == "FAILED")
        assert "the local engine cannot run containers" in c.job(boxed_id).state_reason
