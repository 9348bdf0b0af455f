"""Acceptance: usage reports through the real CLI and API of a real server (two API worker
processes and a controller), and Prometheus metrics scraped from /metrics."""

from __future__ import annotations

import csv
import io
import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aidc.store.db import Database
from tests.e2e.test_job_lifecycle import submit, wait_state
from tests.integration import ledger_rows as L
from tests.server_process import ServerProcess

# Several API worker processes: what this module checks crosses them.
API_WORKERS = 2

# A month long before the server ran, so the meter's own entries stay out of it.
MONTH = "2025-11"


def _write_usage(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.transaction() as s:
            hanbit = L.job(s, "hanbit-vision")
            L.entry(s, hanbit, L.at("2025-11-03 10:00"), L.at("2025-11-03 12:00"), devices=2)
            mirae = L.job(s, "mirae-adas")
            # Crossing midnight into December: two entries, one in the month.
            L.entry(s, mirae, L.at("2025-11-30 23:00"), L.at("2025-12-01 00:00"))
            L.entry(s, mirae, L.at("2025-12-01 00:00"), L.at("2025-12-01 02:00"))
    finally:
        db.dispose()


def test_usage_report_through_the_cli(server: ServerProcess, db_url: str) -> None:
    _write_usage(db_url)
    args = ("report", "usage", "--by", "org-kind", "--by", "month", "--month", MONTH)
    r = server.cli(*args, "--format", "csv", user="admin")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["row"], x["org-kind"], x["month"], x["accelerator_seconds"]) for x in rows] == [
        ("group", "sme", MONTH, "3600.0"),
        ("group", "startup", MONTH, "14400.0"),
        ("total", "", "", "18000.0"),
    ]
    # The same report as JSON, from the CLI and the API, says the same.
    j = server.cli(*args, "--format", "json", user="admin")
    assert j.returncode == 0, j.stderr
    report = json.loads(j.stdout)
    assert [float(x["accelerator_seconds"]) for x in rows[:-1]] == [
        x["accelerator_seconds"] for x in report["rows"]
    ]
    assert report["totals"]["jobs"] == 2 and float(rows[-1]["jobs"]) == 2
    # An organisation's admin sees only their own organisation's usage.
    mine = server.cli(*args, "--format", "csv", user="minji")
    assert mine.returncode == 0, mine.stderr
    assert [x["org-kind"] for x in csv.DictReader(io.StringIO(mine.stdout))] == ["startup", ""]
    table = server.cli(*args, user="seojun")
    assert table.returncode == 0 and "sme" in table.stdout and "startup" not in table.stdout
    # Bad input: exit 2, naming the field and what is allowed.
    bad = server.cli("report", "usage", "--by", "colour", user="admin")
    assert bad.returncode == 2 and "by" in bad.stderr and "org-kind" in bad.stderr
    bad = server.cli("report", "usage", "--month", "2025-13", user="admin")
    assert bad.returncode == 2 and "month" in bad.stderr
    api = httpx.get(
        f"{server.url}/v1/reports/usage",
        params={"by": "org-kind", "month": MONTH, "format": "csv"},
        headers={"Authorization": f"Bearer {server.tokens['admin']}"},
    )
    assert api.status_code == 200 and api.headers["content-type"].startswith("text/csv")
    for params, field in [({"by": "colour"}, "by"), ({"month": "11/2025"}, "month")]:
        wrong = httpx.get(
            f"{server.url}/v1/reports/usage", params=params, headers=api.request.headers
        )
        assert wrong.status_code == 422, wrong.text
        assert [f["field"] for f in wrong.json()["fields"]] == [field]
    wrong = httpx.get(
        f"{server.url}/v1/reports/usage", params={"format": "xml"}, headers=api.request.headers
    )
    assert wrong.status_code == 422 and "format" in wrong.text
    got = [(x["row"], x["org-kind"], x["jobs"]) for x in csv.DictReader(io.StringIO(api.text))]
    assert got == [("group", "sme", "1"), ("group", "startup", "1"), ("total", "", "2")]


def test_metrics_show_the_queue_and_the_planning_passes(server: ServerProcess, db_url: str) -> None:
    _write_usage(db_url)
    running = submit(server, "--gpus", "4", "--", "sleep", "300")
    assert wait_state(server, running, {"RUNNING"})["state"] == "RUNNING"
    waiting = submit(server, "--gpus", "4", "--", "true")
    assert wait_state(server, waiting, {"QUEUED"})["state"] == "QUEUED"

    assert httpx.get(f"{server.url}/metrics").status_code == 401
    minji = {"Authorization": f"Bearer {server.tokens['minji']}"}
    assert httpx.get(f"{server.url}/metrics", headers=minji).status_code == 403
    admin = {"Authorization": f"Bearer {server.tokens['admin']}"}
    r = httpx.get(f"{server.url}/metrics", headers=admin)
    assert r.status_code == 200, r.text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    who = (("priority_class", "normal"), ("project", "hanbit-vision"))
    assert samples[("aidc_queue_jobs", who)] == 1
    assert samples[("aidc_running_jobs", who)] == 1
    local = (("accelerator_type", "a100"), ("pool", "local"))
    assert samples[("aidc_accelerators_allocated", local)] == 4
    assert samples[("aidc_accelerators_free", local)] == 0
    # The controller's pass histogram and counters, from its own process.
    assert samples[("aidc_planning_pass_seconds_count", ())] > 0
    assert samples[("aidc_admissions_total", ())] >= 1
    assert ("aidc_preemptions_total", ()) in samples
    a100 = (("accelerator_type", "a100"),)
    assert samples[("aidc_ledger_accelerator_seconds_total", a100)] >= 4 * 3600 + 3 * 3600


def test_utilisation_and_burndown_through_the_cli(server: ServerProcess) -> None:
    r = server.cli("report", "utilisation", "--month", MONTH, "--format", "json", user="admin")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["period"]["label"] == MONTH
    assert server.cli("report", "utilisation", user="admin").returncode == 0
    denied = server.cli("report", "utilisation", user="minji")
    assert denied.returncode == 2 and "center admins" in denied.stderr
    mine = server.cli("report", "burndown", "--project", "hanbit-vision", "--format", "json")
    assert mine.returncode == 0, mine.stderr
    assert isinstance(json.loads(mine.stdout), list)
    theirs = server.cli("report", "burndown", "--project", "hanbit-vision", user="seojun")
    assert theirs.returncode == 2 and "project" in theirs.stderr
