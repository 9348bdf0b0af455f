"""Acceptance of the validation testbed's service side: a real `aidc server` (demo, local
engine), the real CLI, a generated ONNX model and dataset. A validation on cpu and the
demo's virtual a100 completes through the scheduler; its accuracy equals an independent
computation, its percentiles come from the recorded latencies; its report shows the runs
and their hashes; a stored result changed in the database is reported as tampered; another
organisation's user gets "not found" until a share names that organisation.

The jobs run the real harness (short durations) on the MLP and dataset of
``tests/validation_models.py``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from aidc.client import ApiError, Client
from aidc.services.demo import DEMO_PASSWORD
from aidc.store.db import Database
from tests.integration.test_portal_pages import FieldsWithoutLabel
from tests.server_process import ServerProcess
from tests.validation_models import (
    SHORT_HARNESS,
    reference_logits,
    weights,
    write_dataset,
    write_model,
)

pytestmark = pytest.mark.e2e

HARNESS = {"AIDC_VALIDATION_HARNESS": SHORT_HARNESS}
OWNER, OTHER, ADMIN = "minji", "seojun", "admin"  # Hanbit Vision, Mirae Mobility, operator
PROJECT = "hanbit-vision"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One server for the module, a dataset eval-set@1, a model, and a finished validation."""
    tmp = tmp_path_factory.mktemp("validation")
    db_url = f"sqlite:///{tmp / 'aidc.db'}"
    server = ServerProcess(tmp / "home", db_url, env=HARNESS).start(timeout=120)
    try:
        write_model(tmp / "model.onnx")
        write_dataset(tmp / "eval", samples=96)
        r = server.cli("dataset", "create", "eval-set", "--owner", "Hanbit Vision",
                       "--sector", "other", "--tier", "registered", user=OWNER)  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = server.cli("dataset", "upload", "eval-set", str(tmp / "eval"), user=OWNER)
        assert r.returncode == 0, r.stderr
        r = server.cli(
            "validate", "--project", PROJECT, "--model", str(tmp / "model.onnx"),
            "--dataset", "eval-set@1", "--metric", "top1", "--accelerators", "a100,cpu",
            "--scenario", "single-stream", "--scenario", "offline",
            "--target", "p99<=10s", "--target", "top1>=0.99", "--wait", "--json",
            user=OWNER, timeout=180,
        )  # fmt: skip
        assert r.returncode == 1, r.stdout + r.stderr  # a target fails (and a run, see below)
        v = json.loads(r.stdout)
        yield {"server": server, "db_url": db_url, "v": v, "data": tmp / "eval",
               "model": (tmp / "model.onnx").read_bytes()}  # fmt: skip
    finally:
        server.stop()


def test_a_validation_completes_on_cpu_and_a_virtual_accelerator(world: dict) -> None:
    server, v = world["server"], world["v"]
    assert v["state"] == "done" and [r["accelerator"] for r in v["runs"]] == ["a100", "cpu"]
    a100, cpu = v["runs"]
    assert cpu["state"] == "succeeded" and cpu["job_state"] == "SUCCEEDED", cpu
    assert cpu["integrity"] == "verified" and len(cpu["result_sha256"]) == 64
    verdicts = {x["target"]: x["passed"] for x in cpu["verdicts"]}
    assert verdicts == {"p99<=10s": True, "top1>=0.99": False}
    # The demo's a100s are virtual: no CUDA behind them, so the harness refuses --device cuda
    # and the run fails with its reason (numbers measured on the CPU would be a lie).
    if a100["state"] == "failed":
        assert "--device" in a100["reason"] and "cuda" in a100["reason"], a100
        assert a100["integrity"] == "pending" and a100["result_sha256"] is None
    else:  # a host with a real NVIDIA GPU
        assert a100["integrity"] == "verified", a100
    # The jobs were ordinary batch jobs of the project: one with an a100, one without.
    jobs = {r["accelerator"]: r["job_id"] for r in v["runs"]}
    r = server.cli("jobs", "--json", user=OWNER)
    specs = {j["id"]: j["spec"] for j in json.loads(r.stdout)}
    assert specs[jobs["a100"]]["accelerators"] == 1 and specs[jobs["cpu"]]["accelerators"] == 0
    assert specs[jobs["cpu"]]["datasets"][0]["name"] == "eval-set"
    # Accuracy equals an independent computation; percentiles come from the latencies.
    x = np.load(world["data"] / "inputs.npy")
    labels = np.load(world["data"] / "labels.npy")
    expected = float(np.mean(np.argmax(reference_logits(x, weights()), axis=1) == labels))
    r = server.cli("validation", "result", v["id"], "cpu", user=OWNER)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["metric"]["value"] == pytest.approx(expected)
    assert result["model"]["sha256"] == v["model_sha256"]
    lat = sorted(result["scenarios"]["single-stream"]["latencies_ms"])
    for p in (50, 90, 99):
        rank = lat[math.ceil(p / 100 * len(lat)) - 1]
        assert result["scenarios"]["single-stream"][f"p{p}_ms"] == rank
    r = server.cli("validation", "compare", v["id"], user=OWNER)
    assert r.returncode == 0 and "a100" in r.stdout and "cpu" in r.stdout, r.stderr


def test_reports_show_the_runs_and_their_hashes(world: dict, tmp_path: Path) -> None:
    server, v = world["server"], world["v"]
    out = tmp_path / "report.html"
    r = server.cli("validation", "report", v["id"], "--format", "html", "-o", str(out), user=OWNER)
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "<svg" in page and "<script" not in page and "http://" not in page.split("<svg")[0]
    for run in v["runs"]:
        assert (run["result_sha256"] or run["reason"]) in page and run["job_id"] in page
    hashes = page.split('id="hashes"')[1]
    assert hashes.count(">verified<") == sum(r["integrity"] == "verified" for r in v["runs"])
    pdf = tmp_path / "report.pdf"
    r = server.cli("validation", "report", v["id"], "--format", "pdf", "-o", str(pdf), user=OWNER)
    assert r.returncode == 0 and pdf.read_bytes().startswith(b"%PDF"), r.stderr


def test_other_tenants_get_not_found_until_shared(world: dict) -> None:
    server, v = world["server"], world["v"]
    r = server.cli("validation", "show", v["id"], user=OTHER)
    assert r.returncode == 2 and "no validation" in r.stderr, r.stderr
    with Client(server.url, token=server.tokens[OTHER]) as other:
        for call in (other.validation, other.validation_report, other.verify_validation):
            with pytest.raises(ApiError) as e:
                call(v["id"])
            assert e.value.status == 404
        r = server.cli("validation", "share", v["id"], "--org", "Mirae Mobility", user=OWNER)
        assert r.returncode == 0, r.stderr
        share_id = r.stdout.split()[1].rstrip(":")
        assert other.validation(v["id"]).id == v["id"]
        assert b"<svg" in other.validation_report(v["id"])
        with pytest.raises(ApiError) as e:  # a reader may not share it further
            other.share_validation(v["id"], organisation="Daehan Motors")
        assert e.value.status == 403
        r = server.cli("validation", "unshare", v["id"], share_id, user=OWNER)
        assert r.returncode == 0, r.stderr
        with pytest.raises(ApiError) as e:
            other.validation(v["id"])
        assert e.value.status == 404
    r = server.cli("security-log", "--json", user=ADMIN)
    actions = [e["action"] for e in json.loads(r.stdout) if e["target"] == v["id"]]
    assert {"validation.shared", "validation.share_revoked"} <= set(actions), r.stdout


def test_bad_targets_are_refused_naming_the_target(world: dict, tmp_path: Path) -> None:
    server = world["server"]
    model = tmp_path / "m.onnx"
    write_model(model)
    r = server.cli("validate", "-p", PROJECT, "--model", str(model), "--dataset", "eval-set@1",
                   "-a", "cpu", "--target", "p99<=20", user=OWNER)  # fmt: skip
    assert r.returncode == 2 and "'p99<=20'" in r.stderr and "ms" in r.stderr, r.stderr
    with Client(server.url, token=server.tokens[OTHER]) as other:  # another org's project
        with pytest.raises(ApiError) as e:
            other.validate(model, project=PROJECT, dataset="eval-set@1", accelerators=["cpu"])
        assert e.value.status == 422 and e.value.fields[0][0] == "project"
    r = server.cli("validation", "list", "--json", user=OWNER)
    assert len(json.loads(r.stdout)) == 1  # nothing half-written


def test_portal_pages_list_run_compare_and_download(world: dict) -> None:
    server, v = world["server"], world["v"]
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as h:
        r = h.post("/portal/login", data={"username": OWNER, "password": DEMO_PASSWORD})
        assert r.status_code == 303, r.text
        assert v["id"] in h.get("/portal/validations").text
        page = h.get(f"/portal/validations/{v['id']}").text
        assert v["runs"][1]["result_sha256"] in page and 'id="compare"' in page
        pdf = h.get(f"/portal/validations/{v['id']}/report?format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        form_page = h.get("/portal/validations/new").text
        unlabelled = FieldsWithoutLabel()
        unlabelled.feed(form_page)
        assert unlabelled.unlabelled() == [], unlabelled.unlabelled()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form_page)
        assert csrf is not None
        fields = {
            "project": PROJECT,
            "dataset": "eval-set@1",
            "metric": "top1",
            "accelerators": "cpu",
            "scenarios": "offline",
            "targets": "throughput>=1/s",
        }
        files = {"model": ("model.onnx", world["model"], "application/octet-stream")}
        r = h.post("/portal/validations", data=fields, files=files)
        assert r.status_code == 403  # no CSRF token
        r = h.post("/portal/validations", data={**fields, "csrf_token": csrf.group(1)},
                   files=files)  # fmt: skip
        assert r.status_code == 303 and "/portal/validations/" in r.headers["location"], r.text
        bad = {**fields, "targets": "latency<=1ms", "csrf_token": csrf.group(1)}
        r = h.post("/portal/validations", data=bad, files=files)
        assert r.status_code == 422 and "unknown quantity" in r.text
    r = server.cli("validation", "list", "--model", "model", "--json", user=OWNER)
    assert len(json.loads(r.stdout)) == 2  # the portal's run: another validation of it
    with Client(server.url, token=server.tokens[OWNER]) as c:
        rows = c.compare_validation(v["id"]).rows  # this validation's runs first
    assert [r.validation_id for r in rows][:2] == [v["id"]] * 2 and len(rows) == 3


def test_a_tampered_result_is_reported(world: dict, tmp_path: Path) -> None:
    """Last: it changes the stored result behind the service's back."""
    server, v = world["server"], world["v"]
    db = Database(world["db_url"])
    try:
        with db.transaction() as s:
            s.execute(
                text(
                    "UPDATE validation_runs SET result_json = replace(result_json, :a, :b) "
                    "WHERE validation_id = :v AND accelerator = 'cpu'"
                ),
                {"a": '"correct":', "b": '"correct":1', "v": v["id"]},
            )
    finally:
        db.dispose()
    r = server.cli("validation", "verify", v["id"], user=OWNER)
    assert r.returncode == 1 and "TAMPERED" in r.stdout and "cpu: tampered" in r.stdout
    out = tmp_path / "report.html"
    r = server.cli("validation", "report", v["id"], "-o", str(out), user=OWNER)
    hashes = out.read_text().split('id="hashes"')[1]
    assert r.returncode == 0 and hashes.count(">tampered<") == 1
    r = server.cli("validation", "result", v["id"], "cpu", user=OWNER)
    assert r.returncode == 1 and "tampered" in r.stderr
