"""/v1/simulations on a real server: operators run a trace and read the report; tenants
are refused; a trace name never leads out of the traces directory."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess

TRACE = """job_id,num_gpu,submit_time,iterations,model_name,duration,interval
1,2,0,10,resnet,100,0
2,4,10,10,vgg,300,0
3,1,20,10,bert,50,0
4,8,30,10,gpt,200,0
5,1,40,10,bert,20,0
"""
PHILLY = """timestamp,duration,num_gpus,gpu_time,cluster
2017-10-03 10:00:00,600,4,2400,vc-<b>x</b>
2017-10-03 10:00:30,300,8,2400,vc-b
2017-10-03 10:01:00,bad,1,60,vc-b
"""


@pytest.fixture
def sim_server(start_server, tmp_path: Path) -> ServerProcess:  # type: ignore[no-untyped-def]
    traces = tmp_path / "home" / "traces"
    traces.mkdir(parents=True)
    (traces / "tiny.csv").write_text(TRACE)
    (tmp_path / "outside.csv").write_text(TRACE)
    server: ServerProcess = start_server()
    return server


def _auth(server: ServerProcess, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.tokens[user]}"}


def _wait(server: ServerProcess, sim_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}/v1/simulations/{sim_id}", headers=_auth(server, "admin"))
        assert r.status_code == 200, r.text
        if r.json()["state"] != "running":
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"simulation {sim_id} still running after {timeout}s")


def test_an_operator_runs_a_trace_and_reads_the_report(sim_server: ServerProcess) -> None:
    body = {
        "trace": "tiny.csv",
        "format": "tiresias",
        "cluster": "tiresias",
        "policies": [{"name": "fifo"}, {"name": "tight", "toml": 'preset = "sjf"\n'}],
        "seed": 3,
    }
    r = httpx.post(
        f"{sim_server.url}/v1/simulations", json=body, headers=_auth(sim_server, "admin")
    )
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["state"] == "running" and started["created_by"] == "admin"
    done = _wait(sim_server, started["id"])
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert [p["name"] for p in result["policies"]] == ["fifo", "tight"]
    assert all(p["summary"]["jobs_completed"] == 5 for p in result["policies"])
    assert result["meta"]["trace"] == "tiny.csv" and result["meta"]["seed"] == 3
    assert "trace_path" not in done["request"]
    page = httpx.get(
        f"{sim_server.url}/v1/simulations/{started['id']}/report",
        headers=_auth(sim_server, "admin"),
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.text.count('src="data:image/png;base64,') == 4 and "http" not in page.text
    listed = httpx.get(f"{sim_server.url}/v1/simulations", headers=_auth(sim_server, "admin"))
    assert [s["id"] for s in listed.json()] == [started["id"]]
    assert listed.json()[0]["result"] is None


def test_an_uploaded_trace_with_a_bad_row_fails_naming_the_row(sim_server: ServerProcess) -> None:
    body = {"trace_text": PHILLY, "format": "philly-csv", "cluster": "tiresias"}
    r = httpx.post(
        f"{sim_server.url}/v1/simulations", json=body, headers=_auth(sim_server, "admin")
    )
    assert r.status_code == 202, r.text
    done = _wait(sim_server, r.json()["id"])
    assert done["state"] == "failed"
    assert "duration" in done["error"] and "upload" in done["error"]
    assert str(sim_server.home) not in done["error"] and "Traceback" not in done["error"]
    good = PHILLY.replace("bad", "60")
    r = httpx.post(
        f"{sim_server.url}/v1/simulations",
        json=body | {"trace_text": good},
        headers=_auth(sim_server, "admin"),
    )
    done = _wait(sim_server, r.json()["id"])
    assert done["state"] == "succeeded", done
    page = httpx.get(
        f"{sim_server.url}/v1/simulations/{r.json()['id']}/report",
        headers=_auth(sim_server, "admin"),
    )
    # The project name comes from the trace: escaped, never markup.
    assert "vc-&lt;b&gt;x&lt;/b&gt;" in page.text and "<b>x</b>" not in page.text


BAD = [
    ({"trace": "../outside.csv"}, "trace"),
    ({"trace": "/etc/passwd"}, "trace"),
    ({"trace": "missing.csv"}, "trace"),
    ({"format": "nope"}, "format"),
    ({"cluster": "nope"}, "cluster"),
    ({"policies": [{"name": "nope"}]}, "policies.0.name"),
    ({"policies": [{"name": "x", "toml": "ordering = 'random'"}]}, "policies.0.toml"),
    ({"policies": [{"name": "fifo"}, {"name": "fifo"}]}, "policies"),
    ({"add_nodes": ["lots"]}, "add_nodes"),
    ({"scale_load": 0}, "scale_load"),
    ({"trace_text": TRACE}, "trace"),  # both a name and an upload
]


def test_bad_requests_answer_422_naming_the_field(sim_server: ServerProcess) -> None:
    for change, field in BAD:
        body = {"trace": "tiny.csv", "format": "tiresias", "cluster": "tiresias"} | change
        r = httpx.post(
            f"{sim_server.url}/v1/simulations", json=body, headers=_auth(sim_server, "admin")
        )
        assert r.status_code == 422, (change, r.text)
        assert r.json()["fields"][0]["field"] == field, (change, r.json())
        assert "Traceback" not in r.text
    # Nothing was started by a refused request.
    r = httpx.get(f"{sim_server.url}/v1/simulations", headers=_auth(sim_server, "admin"))
    assert r.json() == []


def test_tenants_get_403_everywhere(sim_server: ServerProcess) -> None:
    body = {"trace": "tiny.csv", "format": "tiresias", "cluster": "tiresias"}
    r = httpx.post(
        f"{sim_server.url}/v1/simulations", json=body, headers=_auth(sim_server, "admin")
    )
    sim_id = r.json()["id"]
    _wait(sim_server, sim_id)
    for user in ("minji", "jisoo"):  # an org admin and a member
        h = _auth(sim_server, user)
        assert (
            httpx.post(f"{sim_server.url}/v1/simulations", json=body, headers=h).status_code == 403
        )
        for path in ("", f"/{sim_id}", f"/{sim_id}/report"):
            r = httpx.get(f"{sim_server.url}/v1/simulations{path}", headers=h)
            assert r.status_code == 403, (user, path, r.text)
    missing = httpx.get(
        f"{sim_server.url}/v1/simulations/../../x", headers=_auth(sim_server, "admin")
    )
    assert missing.status_code == 404
