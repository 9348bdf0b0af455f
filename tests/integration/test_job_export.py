"""The job history export against a real database: who sees what, paging, replay."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aidc.core.job_states import JobState
from aidc.core.jobspec import JobSpec
from aidc.core.policy import preset
from aidc.core.resources import NodePlacement, Placement
from aidc.engines.base import EngineStatus, Outcome
from aidc.scheduler import Decision
from aidc.services import execution, job_export, jobs
from aidc.services.center import Center
from aidc.sim import simulate
from aidc.sim.limits import LimitModel
from aidc.sim.traces import LoadReport, NodeShape, aidc_history
from tests.conftest import local_node
from tests.integration.tenants import Tenants, make_tenants

T0 = 1_800_000_000.0


@pytest.fixture
def t(center: Center) -> Tenants:
    return make_tenants(center)


def finished(center: Center, t: Tenants, project: str, start: float, run_s: float) -> str:
    """A job submitted at T0, run from T0 + start for run_s seconds (no process)."""
    who = t.bob if project == "acme-a" else t.carol
    center.clock = lambda: T0
    spec = {"project": project, "command": ["true"], "accelerators": 2, "time_limit_s": 7200}
    job = jobs.submit(center, who, JobSpec.model_validate(spec))
    held = NodePlacement("node-1", 1, 1024, "a100", (0, 1))
    center.clock = lambda: T0 + start
    assert execution.admit(center, Decision(job.id, Placement("local", (held,)))) is not None
    execution.record_launched(center, job.id, {"dir": "/nowhere", "pid": 0}, reason="started")
    center.clock = lambda: T0 + start + run_s
    execution.record_status(center, job.id, EngineStatus(Outcome.SUCCEEDED, 0, "exit 0"))
    assert jobs.get_job(center, who, job.id).state == JobState.SUCCEEDED
    return job.id


def exported(center: Center, who: object, **kw: object) -> str:
    buf = io.StringIO()
    job_export.write_csv(job_export.history_rows(center, who, **kw), buf)  # type: ignore[arg-type]
    return buf.getvalue()


def test_a_tenant_exports_only_its_own_projects(center: Center, t: Tenants) -> None:
    acme = finished(center, t, "acme-a", 5, 60)
    beta = finished(center, t, "beta-b", 10, 30)
    assert acme in exported(center, t.bob) and beta not in exported(center, t.bob)
    assert beta in exported(center, t.carol) and acme not in exported(center, t.carol)
    # Naming another tenant's project gives nothing, not its jobs.
    assert acme not in exported(center, t.carol, project="acme-a")
    assert acme in exported(center, t.alice)  # the organisation's admin
    everything = exported(center, t.root)
    assert acme in everything and beta in everything


def test_every_page_is_read_in_order(
    center: Center, t: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_export, "PAGE", 2)
    ids = [finished(center, t, "acme-a", i, 10) for i in range(5)]
    rows = list(job_export.history_rows(center, t.root))
    assert [r["job_id"] for r in rows] == ids
    chunks = list(job_export.csv_chunks(iter(rows), per_chunk=2))
    assert len(chunks) == 3 and "".join(chunks) == exported(center, t.root)


def test_exported_history_loads_and_simulates(center: Center, t: Tenants, tmp_path: Path) -> None:
    first = finished(center, t, "acme-a", 5, 60)
    second = finished(center, t, "beta-b", 10, 30)
    center.clock = lambda: T0 + 100
    queued = jobs.submit(
        center, t.bob, JobSpec.model_validate({"project": "acme-a", "command": ["true"]})
    )
    cancelled = jobs.submit(
        center, t.bob, JobSpec.model_validate({"project": "acme-a", "command": ["true"]})
    )
    jobs.cancel_job(center, t.bob, cancelled.id)
    path = tmp_path / "history.csv"
    with path.open("w") as f:
        written, replayable = job_export.write_csv(job_export.history_rows(center, t.root), f)
    assert (written, replayable) == (4, 2)

    report = LoadReport()
    loaded = list(aidc_history(path, NodeShape(), report=report))
    assert [j.job_id for j in loaded] == [first, second]
    a, b = loaded
    assert (b.project, b.submitted_at, b.duration_s) == ("beta-b", T0, 30)
    assert (a.project, a.submitted_at, a.duration_s, a.time_limit_s) == ("acme-a", T0, 60, 7200)
    assert (a.request.nodes, a.request.accelerators, a.request.accelerator_types) == (1, 2, ())
    assert report.skipped == {
        "not finished (still queued or running when exported)": 1,
        "ended without running (no started_at)": 1,
    }
    assert queued.id in report.examples["not finished (still queued or running when exported)"]
    # The user's limit is kept; an oracle model gives the true run time instead.
    oracle = list(aidc_history(path, NodeShape(), LimitModel(oracle=True)))
    assert [j.time_limit_s for j in oracle] == [60, 30]

    result = simulate((local_node(),), loaded, preset("fifo"))
    ran = {o.job_id: (o.started_at, o.ended_at) for o in result.jobs}
    # Both fit the 4 GPUs at once: each starts at its submission, not when it did in life.
    assert ran == {first: (T0, T0 + 60), second: (T0, T0 + 30)}
