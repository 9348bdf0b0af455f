"""Many short and long jobs on the local engine through a real server that is SIGKILLed at
random moments and restarted; then what every job went through, checked.

Used by ``test_crash_recovery`` (reduced) and ``make crash-test`` (500 jobs, more kills).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.server_process import ServerProcess

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "LOST"}
METER_EVERY_S = 1.0
PROJECT = "hanbit-vision"


def inventory(cpus: int) -> str:
    """One host whose cpus are all that limits how many jobs run at once."""
    return f"""
[[pools]]
name = "local"
engine = "local"

[[nodes]]
name = "crash-host"
pool = "local"
cpus = {cpus}
memory = "256G"
"""


@dataclass
class Report:
    jobs: int
    kills: int
    states: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _submit(client: httpx.Client, token: str, sleep_s: float) -> str:
    # Each run appends to its own work folder's file: a second start shows as a second line.
    body = {
        "project": PROJECT,
        "command": ["sh", "-c", f"echo started >> starts; sleep {sleep_s:.2f}"],
        "cpus": 1,
        "time_limit_s": 600,
    }
    r = client.post("/v1/jobs", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def run(home: Path, db_url: str, *, jobs: int, kills: int, seed: int = 7) -> Report:
    rng = random.Random(seed)
    home.mkdir(parents=True, exist_ok=True)
    inv = home.parent / "crash-inventory.toml"
    inv.write_text(inventory(cpus=48))
    server = ServerProcess(
        home,
        db_url,
        extra_args=("--inventory", str(inv)),
        env={"AIDC_METER_EVERY_S": str(METER_EVERY_S)},
    ).start(timeout=60)
    report = Report(jobs=jobs, kills=kills)
    t0 = time.monotonic()
    ids: list[str] = []
    try:
        # Submitted in batches, with kills in between: some land while others run.
        batches = [jobs // (kills + 1)] * kills + [jobs - kills * (jobs // (kills + 1))]
        for i, batch in enumerate(batches):
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for _ in range(batch):
                    sleep_s = rng.uniform(0.05, 0.3) if rng.random() < 0.7 else rng.uniform(2, 6)
                    ids.append(_submit(client, server.tokens["minji"], sleep_s))
            if i < kills:
                time.sleep(rng.uniform(0.5, 3.0))
                server.kill()
                time.sleep(rng.uniform(0.0, 1.0))
                server.start(timeout=60)
        views = _wait_all(server, ids, timeout=60 + jobs * 0.5)
        _check(server, ids, views, report)
    finally:
        report.seconds = time.monotonic() - t0
        server.stop()
    return report


def _wait_all(server: ServerProcess, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
        while True:
            listed = client.get("/v1/jobs", params={"limit": 1000, "project": PROJECT}).json()
            views = {j["id"]: j for j in listed if j["id"] in set(ids)}
            done = all(v["state"] in TERMINAL for v in views.values())
            if (done and len(views) == len(ids)) or time.monotonic() > deadline:
                return views
            time.sleep(0.5)


def _check(server: ServerProcess, ids: list[str], views: dict[str, dict], report: Report) -> None:
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    p = report.problems
    vanished = [i for i in ids if i not in views]
    if vanished:
        p.append(f"{len(vanished)} submitted jobs vanished: {vanished[:5]}")
    with httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
        for job_id, v in views.items():
            report.states[v["state"]] += 1
            if v["state"] not in TERMINAL:
                p.append(f"{job_id} still {v['state']} at the end")
                continue
            events = client.get(f"/v1/jobs/{job_id}/events").json()
            moves = [e for e in events if e["to_state"] != e["from_state"]]
            ends = [e for e in moves if e["to_state"] in TERMINAL]
            if len(ends) != 1:
                p.append(f"{job_id} ended {len(ends)} times: {[e['to_state'] for e in ends]}")
            # Moves into RUNNING (a re-adoption after a restart is a RUNNING -> RUNNING note).
            runs = [e for e in moves if e["to_state"] == "RUNNING"]
            starts_file = server.home / "jobs" / job_id / "work" / "starts"
            starts = starts_file.read_text().count("started") if starts_file.exists() else 0
            attempts = sorted((server.home / "jobs" / job_id).glob("attempt-*"))
            if starts > 1 or len(runs) > 1 or len(attempts) > 1:
                p.append(f"{job_id} started {starts} times ({len(runs)} RUNNING, {attempts})")
            if v["state"] == "SUCCEEDED" and starts != 1:
                p.append(f"{job_id} SUCCEEDED but its command ran {starts} times")
            if v["started_at"] is not None and v["finished_at"] is not None:
                entries = client.get("/v1/ledger", params={"job": job_id}).json()
                charged = sum(e["cpu_seconds"] for e in entries)
                ran = (v["finished_at"] - v["started_at"]) * v["spec"]["cpus"]
                if abs(charged - ran) > METER_EVERY_S * v["spec"]["cpus"] + 0.01:
                    p.append(f"{job_id} ran {ran:.2f} cpu-s but the ledger has {charged:.2f}")
