"""Acceptance: every endpoint needs a token, bad specs name the field, tenants are isolated."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_job_lifecycle import submit, wait_state
from tests.server_process import ServerProcess

PUBLIC = {("GET", "/healthz")}
# Needs no token: the invitation's one-time code is the credential (an empty body is invalid).
CODE_ONLY = {("POST", "/v1/invitations/accept")}


def routes(server: ServerProcess) -> list[tuple[str, str]]:
    """Every (method, path) the running server publishes in its OpenAPI schema."""
    schema = httpx.get(f"{server.url}/openapi.json").json()
    return [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops]


def test_every_endpoint_but_health_answers_401_without_a_token(server: ServerProcess) -> None:
    found = routes(server)
    assert len(found) >= 8
    refused_guesses = 0
    for method, path in found:
        url = server.url + path.replace("{job_id}", "0123456789abcdef")
        for headers in ({}, {"Authorization": "Bearer aidc_not-a-real-token"}):
            r = httpx.request(method, url, headers=headers, json={})
            if (method, path) in PUBLIC:
                assert r.status_code == 200
            elif (method, path) in CODE_ONLY:
                assert r.status_code == 422, (method, path, r.status_code, r.text)
            elif headers and r.status_code == 429:
                # After 10 failed tokens a minute from this address (per API worker).
                assert r.json()["error"] == "too_many" and r.headers["retry-after"], r.text
                refused_guesses += 1
            else:
                assert r.status_code == 401, (method, path, r.status_code, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert r.json()["error"] == "unauthenticated"
    assert refused_guesses > 0  # each API worker allows 10


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"command": ["true"]}, "project"),
        ({"project": "hanbit-vision"}, "command"),
        ({"project": "hanbit-vision", "command": ["true"], "accelerators": -1}, "accelerators"),
        (
            {
                "project": "hanbit-vision",
                "command": ["true"],
                "accelerators": 1,
                "accelerator_type": "z100",
            },
            "accelerator_type",
        ),
        ({"project": "hanbit-vision", "command": ["true"], "time_limit_s": "soon"}, "time_limit_s"),
        ({"project": "hanbit-vision", "command": ["true"], "memory_mib": "lots"}, "memory_mib"),
        ({"project": "hanbit-vision", "command": ["true"], "env": {"AIDC_JOB_ID": "x"}}, "env"),
        ({"project": "hanbit-vision", "command": ["true"], "gpus": 1}, "gpus"),
        ({"project": "mirae-adas", "command": ["true"]}, "project"),
        ({"project": "hanbit-vision", "command": ["true"], "accelerators": 5}, "accelerators"),
        ({"project": "hanbit-vision", "command": ["true"], "nodes": 2}, "nodes"),
    ],
)
def test_malformed_spec_answers_422_naming_the_field(
    server: ServerProcess, body: dict, field: str
) -> None:
    r = httpx.post(
        f"{server.url}/v1/jobs",
        json=body,
        headers={"Authorization": f"Bearer {server.tokens['minji']}"},
    )
    assert r.status_code == 422, r.text
    err = r.json()
    assert [f["field"] for f in err["fields"]] == [field], err
    assert field in err["message"] or err["fields"][0]["message"]


def test_cli_user_error_exits_2_with_the_field_in_the_message(server: ServerProcess) -> None:
    r = server.cli(
        "submit", "-p", "hanbit-vision", "--gpus", "1", "--gpu-type", "z100", "--", "true"
    )
    assert r.returncode == 2
    assert "accelerator_type" in r.stderr and "Traceback" not in r.stderr
    r = server.cli("submit", "-p", "hanbit-vision", "--time", "soon", "--", "true")
    assert r.returncode == 2 and "--time" in r.stderr
    r = server.cli("job", "0123456789abcdef")
    assert r.returncode == 2 and "no job" in r.stderr


def test_another_organisation_cannot_see_or_cancel_a_job(server: ServerProcess) -> None:
    job_id = submit(server, "--", "sleep", "300")
    other = {"Authorization": f"Bearer {server.tokens['seojun']}"}  # Mirae Mobility's admin
    missing = "0123456789abcdef"
    for method, path in [("GET", ""), ("POST", "/cancel"), ("GET", "/events"), ("GET", "/logs")]:
        denied = httpx.request(method, f"{server.url}/v1/jobs/{job_id}{path}", headers=other)
        absent = httpx.request(method, f"{server.url}/v1/jobs/{missing}{path}", headers=other)
        assert denied.status_code == 404, (method, path, denied.text)
        # Indistinguishable from a job that does not exist, apart from the id itself.
        assert denied.json()["error"] == absent.json()["error"] == "not_found"
    listed = httpx.get(f"{server.url}/v1/jobs", headers=other).json()
    assert job_id not in [j["id"] for j in listed]
    assert server.cli("cancel", job_id, user="seojun").returncode == 2
    # Same organisation: a plain member sees the job but may not cancel someone else's.
    member = {"Authorization": f"Bearer {server.tokens['jisoo']}"}
    assert httpx.get(f"{server.url}/v1/jobs/{job_id}", headers=member).status_code == 200
    assert httpx.post(f"{server.url}/v1/jobs/{job_id}/cancel", headers=member).status_code == 403
    # The operator may.
    admin = {"Authorization": f"Bearer {server.tokens['admin']}"}
    assert httpx.post(f"{server.url}/v1/jobs/{job_id}/cancel", headers=admin).status_code == 200
    assert wait_state(server, job_id, {"CANCELLED"})["state"] == "CANCELLED"


def test_bulk_cancel_cannot_touch_another_organisations_jobs(server: ServerProcess) -> None:
    job_id = submit(server, "--", "sleep", "300")
    other = {"Authorization": f"Bearer {server.tokens['seojun']}"}  # Mirae Mobility's admin
    r = httpx.post(f"{server.url}/v1/jobs/cancel", json={"ids": [job_id]}, headers=other)
    assert r.status_code == 200
    assert r.json() == [{"job_id": job_id, "result": "not found", "message": f"no job {job_id!r}"}]
    assert httpx.post(f"{server.url}/v1/jobs/cancel", json={"ids": [job_id]}).status_code == 401
    bad = httpx.post(f"{server.url}/v1/jobs/cancel", json={"ids": []}, headers=other)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "ids"
    assert wait_state(server, job_id, {"RUNNING"})["state"] == "RUNNING"
    server.cli("cancel", job_id)
