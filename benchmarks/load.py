"""Load test: many concurrent clients submit jobs and poll them against one real server.

    .venv/bin/python benchmarks/load.py                         # 64 clients x 10,000 jobs, SQLite
    .venv/bin/python benchmarks/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/load.py --clients 8 --jobs 300  # the suite's size

A blocker job holds the server's 4 GPUs, so the submitted one-GPU jobs all stay queued: the
load is the API and the database, not process starts. Each client submits its share, polls
each job it submitted once right away, and at the end every job is read back. Printed (one
JSON object on stdout): throughput, p50/p99 latency of submits and polls, errors (must be
0), lost jobs (submitted with a 201 but not found afterwards; must be 0), submits that got
no answer (transport errors, counted in errors too), and how often
the server's log says "database is locked" (must be 0). Exit status 1 if any is not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.server_process import ServerProcess  # noqa: E402

USER = "minji"
PROJECT = "hanbit-vision"


@dataclass
class Tally:
    submit_ms: list[float] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1], 2)


async def _client(http: httpx.AsyncClient, share: int, tally: Tally) -> None:
    body = {"project": PROJECT, "command": ["true"], "accelerators": 1, "time_limit_s": 600}
    for _ in range(share):
        t0 = time.perf_counter()
        try:
            r = await http.post("/v1/jobs", json=body)
        except httpx.HTTPError as e:
            tally.errors.append(f"submit: {type(e).__name__}: {e}")
            continue
        tally.submit_ms.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 201:
            tally.errors.append(f"submit: HTTP {r.status_code}: {r.text[:200]}")
            continue
        job_id = r.json()["id"]
        tally.ids.append(job_id)
        t0 = time.perf_counter()
        try:
            r = await http.get(f"/v1/jobs/{job_id}")
        except httpx.HTTPError as e:
            tally.errors.append(f"poll: {type(e).__name__}: {e}")
            continue
        tally.poll_ms.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            tally.errors.append(f"poll: HTTP {r.status_code}: {r.text[:200]}")


async def _load(url: str, token: str, clients: int, jobs: int) -> tuple[Tally, float, int]:
    tally = Tally()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http:
        shares = [jobs // clients + (1 if i < jobs % clients else 0) for i in range(clients)]
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(http, n, tally) for n in shares))
        wall = time.perf_counter() - t0
        lost = 0
        sem = asyncio.Semaphore(clients)

        async def check(job_id: str) -> None:
            nonlocal lost
            async with sem:
                r = await http.get(f"/v1/jobs/{job_id}")
                if r.status_code != 200 or r.json()["state"] != "QUEUED":
                    lost += 1
                    tally.errors.append(f"read back {job_id}: HTTP {r.status_code}")

        await asyncio.gather(*(check(i) for i in tally.ids))
        # Cancel what was queued, so the server stops with nothing pending.
        for k in range(0, len(tally.ids), 1000):
            await http.post("/v1/jobs/cancel", json={"ids": tally.ids[k : k + 1000]})
    return tally, wall, lost


def run_load(server: ServerProcess, clients: int, jobs: int) -> dict[str, Any]:
    """Block the GPUs, run the load, read everything back; the figures as a dict."""
    token = server.tokens[USER]
    headers = {"Authorization": f"Bearer {token}"}
    blocker_body = {
        "project": PROJECT,
        "command": ["sleep", "3600"],
        "accelerators": 4,
        "time_limit_s": 7200,
    }
    blocker = httpx.post(f"{server.url}/v1/jobs", json=blocker_body, headers=headers).json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = httpx.get(f"{server.url}/v1/jobs/{blocker}", headers=headers).json()["state"]
        if state == "RUNNING":
            break
        time.sleep(0.1)
    try:
        tally, wall, lost = asyncio.run(_load(server.url, token, clients, jobs))
    finally:
        httpx.post(f"{server.url}/v1/jobs/{blocker}/cancel", headers=headers)
    requests = len(tally.submit_ms) + len(tally.poll_ms)
    return {
        "clients": clients,
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "submits_per_s": round(len(tally.submit_ms) / wall, 1),
        "requests_per_s": round(requests / wall, 1),
        "submit_p50_ms": _pct(tally.submit_ms, 50),
        "submit_p99_ms": _pct(tally.submit_ms, 99),
        "poll_p50_ms": _pct(tally.poll_ms, 50),
        "poll_p99_ms": _pct(tally.poll_ms, 99),
        "errors": len(tally.errors),
        "first_errors": tally.errors[:5],
        # Acknowledged (201) but not found afterwards; unanswered submits are errors.
        "lost_jobs": lost,
        "unanswered_submits": jobs - len(tally.ids),
        "database_locked": server.log().count("database is locked"),
    }


def _postgres_db(admin_url: str) -> tuple[str, str]:
    import psycopg

    admin = make_url(admin_url)
    name = f"aidc_load_{secrets.token_hex(4)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False), conninfo


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--database-url", help="PostgreSQL admin URL (default: SQLite)")
    ap.add_argument("--workers", type=int, default=2, help="API worker processes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aidc-load-") as tmp:
        # As root, jobs run as other users (isolation): the home's parent must be passable.
        os.chmod(tmp, 0o711)
        home = Path(tmp) / "home"
        conninfo = None
        if args.database_url:
            db_url, conninfo = _postgres_db(args.database_url)
        else:
            db_url = f"sqlite:///{Path(tmp) / 'aidc.db'}"
        server = ServerProcess(home, db_url, workers=args.workers)
        server.start(timeout=120)
        try:
            figures = run_load(server, args.clients, args.jobs)
        finally:
            server.stop()
            if conninfo:
                import psycopg

                with psycopg.connect(conninfo, autocommit=True) as conn:
                    name = make_url(db_url).database
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    figures |= {
        "database": "postgresql" if args.database_url else "sqlite",
        "workers": args.workers,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} ({os.cpu_count()} cpus)",
        "load_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures, indent=1))
    bad = figures["errors"] or figures["lost_jobs"] or figures["database_locked"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
