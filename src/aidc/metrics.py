"""Prometheus metrics: the controller's counters and pass histogram, and the center's state
read from the database at scrape time.

``aidc server`` runs the controller in one process and API workers in others, so a scrape
(served by any worker) cannot read the controller's memory. The server therefore sets
``PROMETHEUS_MULTIPROC_DIR`` (``metrics_dir.prepare``, before anything imports
prometheus_client): the controller's counters and histogram are kept in memory-mapped
files there and ``render`` sums them with ``MultiProcessCollector``. Without the variable
(one process, tests) they live in this module's registry. Gauges of the center's state
(queue, running jobs, accelerators) and the ledger's totals are read from the database
by ``CenterCollector`` on each scrape, so they are right in any process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from aidc.core.job_states import JobState
from aidc.core.resources import NodeState
from aidc.scheduler.free import free_capacity
from aidc.services.center import Center
from aidc.services.nodes import inventory_nodes, placed_jobs
from aidc.store.models import JobRow, Project
from aidc.store.models_ledger import LedgerEntry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_controller = CollectorRegistry()
PASS_SECONDS = Histogram(
    "aidc_planning_pass_seconds",
    "Seconds the scheduler took to plan one controller pass (passes with a queue).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=_controller,
)
ADMISSIONS = Counter(
    "aidc_admissions", "Jobs the scheduler admitted to start.", registry=_controller
)
PREEMPTIONS = Counter(
    "aidc_preemptions", "Running jobs the scheduler preempted.", registry=_controller
)


def observe_pass(seconds: float, *, admitted: int, preempted: int) -> None:
    """One planning pass: its duration and what it decided (the controller calls this)."""
    PASS_SECONDS.observe(seconds)
    if admitted:
        ADMISSIONS.inc(admitted)
    if preempted:
        PREEMPTIONS.inc(preempted)


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _controller.collect()


class CenterCollector(Collector):
    """The center's state, read in one short transaction per scrape."""

    def __init__(self, center: Center) -> None:
        self.center = center

    def collect(self) -> Iterator[Metric]:
        labels = ["project", "priority_class"]
        queued = GaugeMetricFamily("aidc_queue_jobs", "Jobs waiting in the queue.", labels=labels)
        running = GaugeMetricFamily(
            "aidc_running_jobs", "Jobs admitted, starting or running.", labels=labels
        )
        where = ["pool", "accelerator_type"]
        free = GaugeMetricFamily(
            "aidc_accelerators_free", "Accelerators free on nodes that are up.", labels=where
        )
        used = GaugeMetricFamily(
            "aidc_accelerators_allocated", "Accelerators held by jobs.", labels=where
        )
        by_type = ["accelerator_type"]
        acc_s = CounterMetricFamily(
            "aidc_ledger_accelerator_seconds",
            "Accelerator-seconds in the usage ledger.",
            labels=by_type,
        )
        pf_h = CounterMetricFamily(
            "aidc_ledger_pf_hours", "PF-hours in the usage ledger.", labels=by_type
        )
        credits = CounterMetricFamily(
            "aidc_ledger_credits", "Credit-account hours debited by the ledger.", labels=by_type
        )
        holding = [str(s) for s in JobState if s.holds_resources]
        with self.center.db.read() as s:
            jobs = s.execute(
                select(Project.name, JobRow.priority_class, JobRow.state, func.count())
                .join(Project, Project.id == JobRow.project_id)
                .where(JobRow.state.in_([str(JobState.QUEUED), *holding]))
                .group_by(Project.name, JobRow.priority_class, JobRow.state)
            ).all()
            nodes = inventory_nodes(s)
            held = free_capacity(nodes, placed_jobs(s))
            ledger = s.execute(
                select(
                    LedgerEntry.accelerator_type,
                    func.sum(LedgerEntry.accelerator_seconds),
                    func.sum(LedgerEntry.pf_hours),
                    func.sum(LedgerEntry.credits),
                ).group_by(LedgerEntry.accelerator_type)
            ).all()
        counts: dict[tuple[str, str, bool], int] = {}
        for project, klass, state, n in jobs:
            key = (project, klass, state == JobState.QUEUED)
            counts[key] = counts.get(key, 0) + int(n)
        for (project, klass, waiting), n in sorted(counts.items()):
            (queued if waiting else running).add_metric([project, klass], n)
        devices: dict[tuple[str, str], list[int]] = {}
        for node in nodes:
            if not node.accelerator_count:
                continue
            f = devices.setdefault((node.pool, node.accelerator_type), [0, 0])
            n_free = len(held[node.name].devices)
            f[0] += n_free if node.state == NodeState.UP else 0
            f[1] += node.accelerator_count - n_free
        for (pool, acc), (n_free, n_used) in sorted(devices.items()):
            free.add_metric([pool, acc], n_free)
            used.add_metric([pool, acc], n_used)
        for acc, seconds, pf, debited in ledger:
            acc_s.add_metric([acc], float(seconds or 0.0))
            pf_h.add_metric([acc], float(pf or 0.0))
            credits.add_metric([acc], float(debited or 0.0))
        yield from (queued, running, free, used, acc_s, pf_h, credits)


def render(center: Center) -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CenterCollector(center))
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    return generate_latest(registry), CONTENT_TYPE_LATEST
