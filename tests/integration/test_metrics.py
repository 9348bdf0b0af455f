"""/metrics' content in one process (no PROMETHEUS_MULTIPROC_DIR): the center's gauges from
the database and the controller's histogram and counters from this process's registry."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from aidc import metrics
from aidc.core.jobspec import JobSpec
from aidc.scheduler import Planner
from aidc.services import execution, jobs
from aidc.services.center import Center
from tests.integration import ledger_rows as L
from tests.integration.tenants import make_tenants


def samples(center: Center) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.render(center)
    assert content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_gauges_counters_and_the_pass_histogram(center: Center) -> None:
    t = make_tenants(center)
    before = samples(center)
    spec = {"project": "acme-a", "command": ["sleep", "30"], "accelerators": 4}
    for _ in range(2):
        jobs.submit(center, t.bob, JobSpec.model_validate(spec))
    # Admit what the scheduler decides (without launching anything).
    plan = Planner().plan(execution.snapshot(center))
    execution.admit_many(center, plan.admit)
    metrics.observe_pass(0.003, admitted=len(plan.admit), preempted=0)
    with center.db.transaction() as s:
        seq = L.job(s, "beta-b")
        L.entry(s, seq, L.at("2026-11-03 10:00"), L.at("2026-11-03 11:00"), devices=2)
    now = samples(center)
    who = (("priority_class", "normal"), ("project", "acme-a"))
    assert now[("aidc_queue_jobs", who)] == 1 and now[("aidc_running_jobs", who)] == 1
    local = (("accelerator_type", "a100"), ("pool", "local"))
    assert now[("aidc_accelerators_allocated", local)] == 4
    assert now[("aidc_accelerators_free", local)] == 0
    count = ("aidc_planning_pass_seconds_count", ())
    assert now[count] == before.get(count, 0) + 1
    admitted = ("aidc_admissions_total", ())
    assert now[admitted] == before.get(admitted, 0) + 1
    a100 = (("accelerator_type", "a100"),)
    assert now[("aidc_ledger_accelerator_seconds_total", a100)] == 7200
    assert now[("aidc_ledger_pf_hours_total", a100)] == 2 * 0.312
