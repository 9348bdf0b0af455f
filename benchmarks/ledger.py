"""Ledger benchmark: the cost of metering a busy center, and of a month's report.

    .venv/bin/python benchmarks/ledger.py                       # SQLite in a temp dir
    .venv/bin/python benchmarks/ledger.py --jobs 5000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Phases, on one database through the real services:

* meter: N running jobs (one a100 each, every project with credit accounts), metered once
  a minute for a few minutes of the center's clock; each pass writes N entries, debits N
  credit accounts and folds N periods into fair share. Baseline: the same N rows put into a
  scratch copy of the ledger table with one executemany INSERT in one transaction, the
  floor for writing that many rows on this database. Target: a pass takes at most a tenth
  of the metering interval (6 s of every minute) at 5,000 running jobs.
* report: M synthetic entries over two months (day-long runs, an entry an hour);
  `reports.usage` grouped by org-kind and month for one month (which also counts distinct
  job runs and splits by UTC day), against a plain SQL SUM ... GROUP BY org kind of the
  same rows as baseline.

Progress goes to stderr, one JSON object to stdout; the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, make_url, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from aidc.core.jobspec import JobSpec  # noqa: E402
from aidc.core.resources import Node, NodePlacement, Placement, Pool  # noqa: E402
from aidc.core.tenancy import OrgKind  # noqa: E402
from aidc.scheduler import Decision  # noqa: E402
from aidc.services import auth, execution, grants, jobs, metering, reports, tenancy  # noqa: E402
from aidc.services.center import Center  # noqa: E402
from aidc.services.nodes import sync_inventory  # noqa: E402
from aidc.store import migrate  # noqa: E402
from aidc.store.db import Database  # noqa: E402
from aidc.store.models import JobRow, Organisation, Project, User  # noqa: E402
from aidc.store.models_allocations import Allocation, Program  # noqa: E402
from aidc.store.models_ledger import LedgerEntry  # noqa: E402
from loadgen import log  # noqa: E402
from machine import cpu_model  # noqa: E402

TARGET_PASS_S_AT_5000 = 6.0
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
KINDS = list(OrgKind)
RUN_HOURS = 24


def build(center: Center, n_jobs: int, n_orgs: int) -> None:
    """Organisations with a project and a funded allocation each, nodes of 8 a100s, and
    ``n_jobs`` one-GPU jobs recorded RUNNING (no processes: only the ledger is measured)."""
    nodes = [
        Node(f"n{i:05d}", "local", 64, 512 * 1024, "a100", tuple(range(8)), {"pool": "local"})
        for i in range((n_jobs + 7) // 8)
    ]
    sync_inventory(center, [Pool("local", "local")], nodes)
    tenancy.create_organisation(center, "center", "public")
    tenancy.create_user(center, "root", "center", "center-admin")
    root = auth.authenticate(center, auth.issue_token(center, "root"))
    for o in range(n_orgs):
        tenancy.create_organisation(center, f"org-{o}", KINDS[o % len(KINDS)])
        tenancy.create_project(center, f"proj-{o}", f"org-{o}", ["root"])
    root = auth.authenticate(center, auth.issue_token(center, "root"))
    _fund(center, n_orgs, n_jobs)
    ids = []
    for k in range(n_jobs):
        spec = {"project": f"proj-{k % n_orgs}", "command": ["true"], "accelerators": 1}
        ids.append(jobs.submit(center, root, JobSpec.model_validate(spec)).id)
    for lo in range(0, n_jobs, 500):
        batch = [
            Decision(
                job_id,
                Placement("local", (NodePlacement(nodes[k // 8].name, 1, 1024, "a100", (k % 8,)),)),
            )
            for k, job_id in enumerate(ids[lo : lo + 500], start=lo)
        ]
        execution.admit_many(center, batch)
        execution.record_launched_many(
            center, [(d.job_id, {"dir": "/nowhere", "pid": 0}) for d in batch], reason="started"
        )


def _fund(center: Center, n_orgs: int, n_jobs: int) -> None:
    """One program; an active allocation per project, as approval makes it."""
    now = center.clock()
    with center.db.transaction() as s:
        user = s.scalars(select(User)).first()
        assert user is not None
        prog = Program(
            name="bench",
            kind="allocation",
            starts_at=0.0,
            ends_at=4e9,
            eligible_kinds=[],
            budget_hours={"a100": 1e12},
            rules={},
            created_at=now,
            created_by="bench",
        )
        s.add(prog)
        s.flush()
        for proj in s.scalars(select(Project)):
            a = Allocation(
                program_id=prog.id,
                project_id=proj.id,
                org_id=proj.org_id,
                kind="new",
                state=grants.AllocationState.APPROVED,
                justification="bench",
                requested_hours={"a100": 1e9},
                requested_quota={},
                granted_hours={"a100": 1e9},
                granted_quota={},
                starts_at=0.0,
                ends_at=4e9,
                requested_by=user.id,
                created_at=now,
                updated_at=now,
            )
            s.add(a)
            s.flush()
            grants.activate(s, a, at=now, actor="bench", reason="bench")


def meter_phase(center: Center, n_jobs: int, passes: int) -> dict[str, Any]:
    times = []
    for k in range(1, passes + 1):
        center.clock = lambda k=k: START + 60.0 * k
        t0 = time.perf_counter()
        done = metering.meter(center)
        times.append(time.perf_counter() - t0)
        assert done.entries == n_jobs, done
        log(f"meter pass {k}: {times[-1]:.2f} s for {done.entries} entries")
    base = _plain_insert(center, n_jobs)
    med = statistics.median(times)
    return {
        "running_jobs": n_jobs,
        "passes": passes,
        "pass_s_median": round(med, 3),
        "pass_s_max": round(max(times), 3),
        "entries_per_s": round(n_jobs / med, 1),
        "baseline_plain_insert_s": round(base, 3),
        "ratio_to_plain_insert": round(med / base, 2),
    }


def _plain_insert(center: Center, n: int) -> float:
    """The same number of ledger-shaped rows in a scratch table, one executemany INSERT."""
    src: Table = LedgerEntry.__table__  # type: ignore[assignment]
    with center.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_scratch"))
    scratch = Table("bench_scratch", src.metadata.__class__(), *[c._copy() for c in src.columns])
    scratch.create(center.db.engine)
    rows = [
        {
            "job_seq": k,
            "job_id": f"{k:016x}",
            "attempt": 1,
            "project_id": 1,
            "org_id": 1,
            "pool": "local",
            "accelerator_type": "a100",
            "devices": 1,
            "period_start": START + 60.0 * k,
            "period_end": START + 60.0 * k + 60,
            "accelerator_seconds": 60.0,
            "cpu_seconds": 60.0,
            "memory_gb_seconds": 60.0,
            "pf_hours": 0.0052,
            "weighted_seconds": 60.0,
            "credit_account_id": None,
            "credits": 1 / 60,
            "final": False,
            "recorded_at": START,
        }
        for k in range(n)
    ]
    t0 = time.perf_counter()
    with center.db.engine.begin() as conn:
        conn.execute(insert(scratch), rows)
    took = time.perf_counter() - t0
    scratch.drop(center.db.engine)
    return took


def report_phase(center: Center, n_entries: int) -> dict[str, Any]:
    """``n_entries`` synthetic entries over Oct-Nov: runs of a random project, each
    ``RUN_HOURS`` hourly entries long (as a meter cuts a day-long run at midnight)."""
    rng = random.Random(7)
    with center.db.read() as s:
        projects = [(p.id, p.org_id) for p in s.scalars(select(Project))]
        seqs = list(s.scalars(select(JobRow.seq)))
    rows = []
    for k in range(n_entries):
        run, hour = divmod(k, RUN_HOURS)
        if hour == 0:
            pid, oid = rng.choice(projects)
            first = START - 31 * 86_400 + 3600.0 * rng.randrange(61 * 24 - RUN_HOURS)
        start = first + 3600.0 * hour
        end = start + 3600.0
        if int(start // 86_400) != int((end - 1e-9) // 86_400):
            end = (start // 86_400 + 1) * 86_400  # the meter never crosses a UTC midnight
        rows.append(
            {
                "job_seq": seqs[run % len(seqs)],
                "job_id": "bench",
                "attempt": 1000 + run,  # never clashes with the metered entries' key
                "project_id": pid,
                "org_id": oid,
                "pool": "local",
                "accelerator_type": "a100",
                "devices": 1,
                "period_start": start,
                "period_end": end,
                "accelerator_seconds": end - start,
                "cpu_seconds": end - start,
                "memory_gb_seconds": end - start,
                "pf_hours": (end - start) / 3600 * 0.312,
                "weighted_seconds": end - start,
                "credit_account_id": None,
                "credits": 0.0,
                "final": hour == RUN_HOURS - 1,
                "recorded_at": end,
            }
        )
    with center.db.engine.begin() as conn:
        for lo in range(0, len(rows), 20_000):
            conn.execute(insert(LedgerEntry), rows[lo : lo + 20_000])
    with center.db.read() as s:
        root = s.scalars(select(User).where(User.username == "root")).one()
        assert root
    principal = auth.authenticate(center, auth.issue_token(center, "root"))
    times, plain = [], []
    lo, hi = START, dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    for _ in range(3):
        t0 = time.perf_counter()
        rep = reports.usage(center, principal, by=["org-kind", "month"], month="2026-11")
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with center.db.read() as s:
            sums = s.execute(
                select(Organisation.kind, func.sum(LedgerEntry.accelerator_seconds))
                .join(Organisation, Organisation.id == LedgerEntry.org_id)
                .where(LedgerEntry.period_start >= lo, LedgerEntry.period_start < hi)
                .group_by(Organisation.kind)
            ).all()
        plain.append(time.perf_counter() - t0)
    total = sum(float(v) for _, v in sums)
    assert abs(rep.totals.accelerator_seconds - total) < 1e-6 * max(total, 1), (rep, total)
    return {
        "entries": n_entries,
        "report_s_median": round(statistics.median(times), 3),
        "baseline_plain_sql_s": round(statistics.median(plain), 3),
        "ratio_to_plain_sql": round(statistics.median(times) / statistics.median(plain), 2),
        "rows": len(rep.rows),
    }


def _database(url: str | None) -> tuple[str, Any]:
    if not url:
        tmp = tempfile.mkdtemp(prefix="aidc-bench-ledger-")
        return f"sqlite:///{tmp}/aidc.db", None
    import psycopg

    admin = make_url(url)
    name = f"aidc_bench_{secrets.token_hex(4)}"
    info = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(info, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=5000)
    ap.add_argument("--orgs", type=int, default=40)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    url, drop = _database(args.database_url)
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        center = Center(db=db, clock=lambda: START)
        log(f"building {args.jobs} running jobs on {db.engine.dialect.name}")
        build(center, args.jobs, args.orgs)
        meter = meter_phase(center, args.jobs, args.passes)
        log(f"inserting {args.entries} entries for the report")
        report = report_phase(center, args.entries)
    finally:
        db.dispose()
        if drop:
            drop()
    target = TARGET_PASS_S_AT_5000 * args.jobs / 5000
    print(
        json.dumps(
            {
                "benchmark": "ledger",
                "date": dt.date.today().isoformat(),
                "machine": {"cpu": cpu_model(), "python": platform.python_version()},
                "database": make_url(url).get_backend_name(),
                "meter": meter
                | {"target_pass_s": target, "pass": meter["pass_s_median"] <= target},
                "report": report,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
