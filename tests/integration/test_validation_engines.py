"""The same validation on the local, Slurm and Ray engines yields the same report structure.

One request (the generated MLP and dataset of ``tests/validation_models.py``, metric top1,
single-stream and offline, on ``a100,cpu``) goes through the real service to three
centers, each with one pool: the local engine, the dev Slurm cluster (local store) and the
session's Ray cluster (S3 store on moto, so the model reaches the job as a verified copy in
the shared cache). A job names no pool: its accelerator type picks the nodes, and a CPU job
(no type) fits any node, here the only pool's. The jobs run the real harness (short
durations). Each cpu run succeeds; each a100 (virtual on all three: no CUDA here) fails
with the harness's reason, or verifies on a host with a real NVIDIA GPU.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aidc.controller import Controller
from aidc.core.validation_targets import content_hash
from aidc.schemas_datasets import DatasetCreate
from aidc.schemas_validation import ValidationCreate
from aidc.services import datasets, datasets_wiring, validations, validations_ingest
from aidc.services import validations_read as vread
from aidc.services.center import Center
from aidc.services.datasets_place import DatasetPlace
from aidc.services.nodes import sync_inventory
from aidc.services.validations_compare import compare
from aidc.services.validations_report import html
from aidc.storage import storage_from_url
from aidc.store import migrate
from aidc.store.db import Database
from tests.conformance.backend_local import LocalBackend
from tests.conformance.backend_ray import RayBackend
from tests.conformance.backend_slurm import SlurmBackend
from tests.conftest import skip_or_fail
from tests.datasets_storage import s3_storage
from tests.integration.datasets_env import upload
from tests.integration.tenants import make_tenants
from tests.validation_models import SHORT_HARNESS, write_dataset, write_model

# Ray first: its jobs take longest to start, and the others set up meanwhile.
ENGINES = {"ray": RayBackend, "local": LocalBackend, "slurm": SlurmBackend}
ACCELERATORS = ["a100", "cpu"]


def shape(x: Any) -> Any:
    """The keys at every level, without the values (a list: its elements' shapes, once)."""
    if isinstance(x, dict):
        return {k: shape(v) for k, v in sorted(x.items())}
    if isinstance(x, list):
        return sorted({json.dumps(shape(v), sort_keys=True) for v in x})
    return None


def tables(page: str) -> dict[str, tuple[list[str], list[int]]]:
    """Each table of the report: its header cells and the number of cells of each row."""
    out = {}
    for tid, body in re.findall(r'<table id="(\w+)">(.*?)</table>', page, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        head = re.findall(r"<th>(.*?)</th>", rows[0])
        out[tid] = (head, [len(re.findall(r"<td", r)) for r in rows[1:]])
    return out


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, dict[str, Any]]]:
    """The validation, run at once on the three centers; what each stored and reports."""
    tmp = tmp_path_factory.mktemp("vengines")
    write_model(tmp / "model.onnx")
    write_dataset(tmp / "eval", samples=64)
    files = {n: (tmp / "eval" / n).read_bytes() for n in ("inputs.npy", "labels.npy")}
    body = ValidationCreate(
        project="acme-a", dataset="eval-set@1", metric="top1", accelerators=ACCELERATORS,
        scenarios=["single-stream", "offline"], targets=["p99<=10s", "top1>=0.5"],
    )  # fmt: skip
    model = validations.ModelFile("model.onnx", (tmp / "model.onnx").read_bytes())
    harness = validations.harness_argv(SHORT_HARNESS)
    started: dict[str, tuple[Center, Controller, Any, str]] = {}
    try:
        for kind, backend_class in ENGINES.items():
            backend = backend_class()
            why = backend.unavailable()
            if why is not None:
                skip_or_fail(f"engine {kind} is not available here: {why}")
            home = tmp / kind / "home"
            home.mkdir(parents=True)
            db = Database(f"sqlite:///{tmp / kind / 'aidc.db'}")
            migrate.upgrade(db.engine)
            engine = backend.engine(home, 1.0)
            c = Center(db=db, engines={kind: engine})
            sync_inventory(c, *backend.inventory(engine))
            if kind == "ray":
                storage = s3_storage(request.getfixturevalue("s3_endpoint"))
            else:
                storage = storage_from_url(str(home / "datasets"))
            datasets_wiring.install(c, where=DatasetPlace(storage, cache_dir=home / "cache"))
            validations_ingest.install(c)
            t = make_tenants(c)
            datasets.create_dataset(c, t.alice, DatasetCreate(
                name="eval-set", owner="Acme", sector="other", tier="registered"))  # fmt: skip
            upload(c, t.alice, "eval-set", files, chunk=1 << 20)
            controller = Controller(c, tick_s=0.1)
            controller.start()
            v = validations.create(c, t.bob, body, model, harness)
            started[kind] = (c, controller, t, v.id)
        deadline = time.monotonic() + 240
        pending = set(started)
        while pending:
            assert time.monotonic() < deadline, f"validations still running on {pending}"
            for kind in list(pending):
                c, _, t, vid = started[kind]
                if vread.show(c, t.bob, vid).state == "done":
                    pending.discard(kind)
            time.sleep(0.2)
        out: dict[str, dict[str, Any]] = {}
        for kind, (c, _, t, vid) in started.items():
            view = vread.show(c, t.bob, vid)
            stored = {
                r.accelerator: vread.stored_result(c, t.bob, vid, r.accelerator)
                for r in view.runs
                if r.result_sha256 is not None
            }
            out[kind] = {
                "view": view,
                "stored": stored,
                "verify": vread.verify(c, t.bob, vid),
                "compare": compare(c, t.bob, vid),
                "html": html(c, t.bob, vid),
            }
        yield out
    finally:
        for c, controller, _, _ in started.values():
            controller.stop()
            for engine in c.engines.values():
                engine.close()
            c.db.dispose()


def test_each_engine_runs_the_validation(outcomes: dict[str, dict[str, Any]]) -> None:
    for kind, o in outcomes.items():
        runs = {r.accelerator: r for r in o["view"].runs}
        assert list(runs) == ACCELERATORS, kind
        cpu, a100 = runs["cpu"], runs["a100"]
        ok = ("succeeded", "SUCCEEDED", "verified")
        assert (cpu.state, cpu.job_state, cpu.integrity) == ok, (kind, cpu)
        if a100.state == "failed":  # no CUDA behind the virtual a100s
            assert "--device" in a100.reason and "cuda" in a100.reason, (kind, a100)
            assert a100.result_sha256 is None and a100.integrity == "pending", (kind, a100)
        else:  # a host with a real NVIDIA GPU
            assert a100.integrity == "verified", (kind, a100)
        # Each stored result re-hashes to the hash taken on arrival.
        assert o["verify"].ok, (kind, o["verify"])
        for acc, (text, sha, integrity) in o["stored"].items():
            assert content_hash(json.loads(text)) == sha == runs[acc].result_sha256, (kind, acc)
            assert integrity == "verified", (kind, acc)


def test_results_and_reports_have_the_same_structure(outcomes: dict[str, dict[str, Any]]) -> None:
    local = outcomes["local"]
    want = shape(json.loads(local["stored"]["cpu"][0]))
    assert {"scenarios", "environment", "metric"} <= set(want)
    want_rows = [shape(r.model_dump()) for r in local["compare"].rows]
    want_tables = tables(local["html"])
    assert set(want_tables) == {"results", "targets", "hashes"}
    for kind, o in outcomes.items():
        for acc, (text, _, _) in o["stored"].items():
            assert shape(json.loads(text)) == want, (kind, acc)
        # The same values differ (another node, other timings): not a copy of one result.
        if kind != "local":
            assert o["stored"]["cpu"][1] != local["stored"]["cpu"][1], kind
        assert [shape(r.model_dump()) for r in o["compare"].rows] == want_rows, kind
        assert tables(o["html"]) == want_tables, kind
