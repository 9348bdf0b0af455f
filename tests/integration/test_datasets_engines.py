"""Datasets on the Slurm and Ray engines: a real Slurm job (scripts/slurm-dev, local store)
and a real Ray Job (tests/ray_cluster.py, S3 store on moto, staged into the shared cache)
read a restricted dataset through the same variables as on the local engine, cannot
change it, and their outputs wait in the airlock; a revoked grant stops the next launch
before anything is submitted."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aidc.controller import Controller
from aidc.core.jobspec import JobSpec
from aidc.core.resources import NodePlacement, Placement
from aidc.engines.base import LaunchError, LaunchRequest
from aidc.schemas_datasets import GrantDecision, GrantRequest
from aidc.services import auth, datasets_airlock, datasets_grants, datasets_wiring, jobs, tenancy
from aidc.services.center import Center
from aidc.services.datasets_place import DatasetPlace
from aidc.services.nodes import sync_inventory
from aidc.storage import storage_from_url
from aidc.store import migrate
from aidc.store.db import Database
from tests.conformance.backend_ray import RayBackend
from tests.conformance.backend_slurm import SlurmBackend
from tests.conftest import skip_or_fail
from tests.datasets_storage import s3_storage
from tests.integration.datasets_env import make_dataset, upload
from tests.integration.tenants import make_tenants

RECORDS = b"patient,age\nA,34\nB,57\n"
# The same script as on the local engine: read the data, try to change it three ways.
SCRIPT = """
cat "$AIDC_DATASET_EHR/records.csv" > "$AIDC_OUTPUT_DIR/copy.csv"
echo "at $AIDC_DATASET_EHR_PATH"
echo x >> "$AIDC_DATASET_EHR/records.csv" && echo WROTE
touch "$AIDC_DATASET_EHR/new.csv" && echo CREATED
rm -f "$AIDC_DATASET_EHR/records.csv" && echo REMOVED
cat "$AIDC_DATASET_EHR/records.csv" | wc -l
"""


def wait_for(pred, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture(params=["slurm", "ray"])
def center(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Center]:
    backend = SlurmBackend() if request.param == "slurm" else RayBackend()
    why = backend.unavailable()
    if why is not None:
        skip_or_fail(f"engine {request.param} is not available here: {why}")
    db = Database(f"sqlite:///{tmp_path / 'aidc.db'}")
    migrate.upgrade(db.engine)
    engine = backend.engine(tmp_path / "home", 1.0)
    c = Center(db=db, engines={request.param: engine})
    pools, nodes = backend.inventory(engine)
    sync_inventory(c, pools, nodes)
    if request.param == "slurm":
        storage = storage_from_url(str(tmp_path / "home" / "datasets"))
    else:
        storage = s3_storage(request.getfixturevalue("s3_endpoint"))
    # The cache (object stores) is in aidc's home: on this host, what the nodes share.
    datasets_wiring.install(c, where=DatasetPlace(storage, cache_dir=tmp_path / "home" / "cache"))
    yield c
    engine.close()
    db.dispose()


def test_a_job_reads_its_dataset_read_only_and_its_outputs_are_held(center: Center) -> None:
    t = make_tenants(center)
    tenancy.create_user(center, "steve", "Center", "data-steward")
    steve = auth.authenticate(center, auth.issue_token(center, "steve"))
    make_dataset(center, t.root, "ehr", "restricted", sector="healthcare")
    upload(center, t.root, "ehr", {"records.csv": RECORDS})
    g = datasets_grants.request_grant(
        center,
        t.bob,
        GrantRequest(
            dataset="ehr", project="acme-a", purpose="study", ends_at=center.clock() + 3600
        ),
    )
    datasets_grants.decide(center, steve, g.id, True, GrantDecision(reason="ok"))
    spec = JobSpec.model_validate(
        {"project": "acme-a", "script": SCRIPT, "datasets": ["ehr:/data"]}
    )
    controller = Controller(center, tick_s=0.1)
    controller.start()
    try:
        job = jobs.submit(center, t.bob, spec)
        wait_for(lambda: jobs.get_job(center, t.bob, job.id).state.is_terminal)
        wait_for(lambda: datasets_airlock.list_outputs(center, steve) != [])
    finally:
        controller.stop()
    done = jobs.get_job(center, t.bob, job.id)
    log = jobs.read_log(center, t.root, job.id, 0, 100_000).data.decode()
    assert done.state == "SUCCEEDED", (done.state_reason, log)
    lines = log.splitlines()
    assert "at /data" in lines and lines[-1] == "3", log  # the file is whole
    assert not {"WROTE", "CREATED", "REMOVED"} & set(lines), log
    # Refused by the read-only mount (root) or by the files' modes (another user).
    refusals = [x for x in lines if x.endswith(("Read-only file system", "Permission denied"))]
    assert len(refusals) == 3, log
    out = datasets_airlock.show(center, steve, job.id)
    assert (out.state, [f.path for f in out.files]) == ("held", ["copy.csv"])
    assert out.files[0].sha256 == hashlib.sha256(RECORDS).hexdigest()

    # A revoked grant: the engine refuses the next run before anything reaches Slurm/Ray.
    datasets_grants.revoke(center, steve, g.id, GrantDecision(reason="study ended"))
    engine = next(iter(center.engines.values()))
    held = done.placement or {}
    node = held["nodes"][0]["node"] if held else ""
    again = LaunchRequest(
        job.id,
        "acme-a",
        JobSpec.model_validate(jobs.get_job(center, t.root, job.id).spec),
        Placement(str(held.get("pool")), (NodePlacement(node, 1, 256, "a100", ()),)),
        time_limit_s=60,
        attempt=2,
        organisation="Acme",
    )
    with pytest.raises(LaunchError, match="no live access grant"):
        engine.launch(again)
    assert not list(Path(engine.jobs_dir, job.id, "attempt-2").glob("*.json"))  # type: ignore[attr-defined]
