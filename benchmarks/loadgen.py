"""Load generation and CPU accounting for the benchmarks: concurrent clients over HTTP,
latency percentiles, and the CPU used by client, server, database and machine."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- statistics ---------------------------------------------------------------------------


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile: always a latency that was actually observed."""
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def summary(latencies_ns: list[int], points: tuple[float, ...]) -> dict[str, float]:
    if not latencies_ns:
        raise RuntimeError("no requests completed; see the server log above")
    ms = sorted(x / 1e6 for x in latencies_ns)
    out = {f"p{p:g}_ms": round(percentile(ms, p), 2) for p in points}
    out["max_ms"] = round(ms[-1], 2)
    out["mean_ms"] = round(sum(ms) / len(ms), 2)
    return out


# -- load generation ----------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    json: dict[str, Any] | None = None


@dataclass
class Sample:
    start_ns: int
    latency_ns: int
    status: int
    body: bytes


@dataclass
class LoadResult:
    samples: list[Sample]  # in the order the requests were sent
    failures: list[str]  # transport errors and unexpected statuses
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float
    database_cpu_s: float | None  # PostgreSQL backends serving this run's database
    machine_busy_pct: float  # of all cores, whoever used them (PostgreSQL included)
    other_cpu_s: float  # used by none of the above: other work sharing the machine

    @property
    def latencies_ns(self) -> list[int]:
        return [x.latency_ns for x in self.samples]


@dataclass
class Load:
    """``total`` requests, ``make(i)`` the i-th, spread over ``clients`` concurrent clients,
    each with its own keep-alive connection that is opened before the clock starts."""

    url: str
    headers: dict[str, str]
    clients: int
    total: int
    make: Callable[[int], Request]
    expect: int
    server_pid: int = 0
    db_name: str | None = None
    _next: Iterator[int] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _samples: list[Sample] = field(default_factory=list, init=False)
    _failures: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._next = iter(range(self.total))

    def run(self, mode: str) -> LoadResult:
        if mode == "threads":
            wall, (cpu, server_cpu, db_cpu, busy) = self._run_threads()
        else:
            wall, (cpu, server_cpu, db_cpu, busy) = asyncio.run(self._run_asyncio())
        return LoadResult(
            samples=sorted(self._samples, key=lambda x: x.start_ns),
            failures=self._failures,
            wall_s=wall,
            client_cpu_s=round(cpu, 2),
            server_cpu_s=round(server_cpu, 2),
            database_cpu_s=None if self.db_name is None else round(db_cpu, 2),
            machine_busy_pct=round(100 * busy / (wall * (os.cpu_count() or 1)), 1),
            other_cpu_s=round(max(0.0, busy - cpu - server_cpu - db_cpu), 2),
        )

    def _take(self) -> int | None:
        # Uncontended in asyncio mode; in thread mode it hands out each index exactly once.
        with self._lock:
            return next(self._next, None)

    def _record(self, start_ns: int, r: httpx.Response) -> None:
        # Measured first, so the bookkeeping below is not charged to the server.
        elapsed = time.perf_counter_ns() - start_ns
        # list.append is atomic under the GIL, so threads need no lock here.
        self._samples.append(Sample(start_ns, elapsed, r.status_code, r.content))
        if r.status_code != self.expect:
            self._failures.append(f"HTTP {r.status_code}: {r.text[:200]}")

    def _cpu_marks(self) -> Callable[[], tuple[float, float, float, float]]:
        """Start counting CPU seconds of this process, of the server, of the database's
        backends and of the whole machine; the returned function says how many each used
        since. Counting starts with the clock, so opening the connections is not charged."""
        server = psutil.Process(self.server_pid) if self.server_pid else None
        cpu0, server0, machine0 = time.process_time(), _server_cpu(server), busy_cpu_s()
        db0 = _backend_cpu(self.db_name)

        def used() -> tuple[float, float, float, float]:
            db1 = _backend_cpu(self.db_name)
            return (
                time.process_time() - cpu0,
                _server_cpu(server) - server0,
                sum(t - db0.get(pid, 0.0) for pid, t in db1.items()),
                busy_cpu_s() - machine0,
            )

        return used

    def _run_threads(self) -> tuple[float, tuple[float, float, float, float]]:
        ends: list[float] = []
        ready = threading.Barrier(self.clients + 1, timeout=60)

        def worker() -> None:
            with httpx.Client(base_url=self.url, headers=self.headers, timeout=60) as c:
                try:
                    c.get("/healthz")
                finally:
                    ready.wait()
                while (i := self._take()) is not None:
                    req = self.make(i)
                    t0 = time.perf_counter_ns()
                    try:
                        r = c.request(req.method, req.path, json=req.json)
                    except httpx.HTTPError as e:
                        self._failures.append(f"{type(e).__name__}: {e}")
                        continue
                    self._record(t0, r)
                ends.append(time.perf_counter())

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.clients)]
        for t in threads:
            t.start()
        ready.wait()
        t0 = time.perf_counter()
        used = self._cpu_marks()
        for t in threads:
            t.join()
        cpu = used()
        if len(ends) != self.clients:
            raise RuntimeError("a load thread died; see its traceback above")
        return max(ends) - t0, cpu

    async def _run_asyncio(self) -> tuple[float, tuple[float, float, float, float]]:
        clients = [
            httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=60)
            for _ in range(self.clients)
        ]

        async def worker(c: httpx.AsyncClient) -> None:
            while (i := self._take()) is not None:
                req = self.make(i)
                t0 = time.perf_counter_ns()
                try:
                    r = await c.request(req.method, req.path, json=req.json)
                except httpx.HTTPError as e:
                    self._failures.append(f"{type(e).__name__}: {e}")
                    continue
                self._record(t0, r)

        try:
            await asyncio.gather(*(c.get("/healthz") for c in clients))
            t0 = time.perf_counter()
            used = self._cpu_marks()
            await asyncio.gather(*(worker(c) for c in clients))
            wall = time.perf_counter() - t0
            cpu = used()
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        return wall, cpu


def _cpu(p: psutil.Process | None) -> float:
    """User+system CPU seconds of ``p`` and its threads (not its job subprocesses)."""
    if p is None:
        return 0.0
    t = p.cpu_times()
    return float(t.user + t.system)


def _server_cpu(p: psutil.Process | None) -> float:
    """CPU seconds of the server and its API worker processes (``--workers``), which are
    multiprocessing children; job supervisors and jobs are left out."""
    if p is None:
        return 0.0
    total = _cpu(p)
    for child in p.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if any("multiprocessing" in part for part in child.cmdline()):
                total += _cpu(child)
    return total


def _backend_cpu(db_name: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``db_name``, found by its process title
    ("postgres: USER DB HOST(PORT) STATE"), so other databases' load is left out."""
    if db_name is None:
        return {}
    out: dict[int, float] = {}
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if p.info["name"] == "postgres" and cmd and f" {db_name} " in f" {cmd[0]} ":
            with contextlib.suppress(psutil.NoSuchProcess):
                out[p.pid] = _cpu(p)
    return out


def busy_cpu_s() -> float:
    # guest time is already inside user time on Linux, so it is not added again.
    t = psutil.cpu_times()._asdict()
    return float(sum(t.get(k, 0.0) for k in ("user", "nice", "system", "irq", "softirq")))


def load_report(res: LoadResult, total: int) -> dict[str, Any]:
    lat = res.latencies_ns
    tenth = max(1, len(lat) // 10)
    starts = [x.start_ns for x in res.samples]
    return {
        "requests": total,
        "failed": len(res.failures),
        "first_failures": res.failures[:3],
        "wall_s": round(res.wall_s, 3),
        "requests_per_s": round(total / res.wall_s, 1),
        **summary(lat, (50, 90, 99)),
        # Latency as the run goes on: in the submit phase, as the queue grows.
        "p50_by_tenth_ms": [
            summary(lat[i : i + tenth], (50,))["p50_ms"] for i in range(0, len(lat), tenth)
        ],
        "requests_per_s_by_tenth": [
            round((len(chunk) - 1) * 1e9 / max(1, chunk[-1] - chunk[0]), 1)
            for chunk in (starts[i : i + tenth] for i in range(0, len(starts), tenth))
            if len(chunk) > 1
        ],
        "client_cpu_s": res.client_cpu_s,
        "server_cpu_s": res.server_cpu_s,
        **({} if res.database_cpu_s is None else {"database_cpu_s": res.database_cpu_s}),
        "machine_busy_pct": res.machine_busy_pct,
        "other_cpu_s": res.other_cpu_s,
        "server_cpu_ms_per_request": round(res.server_cpu_s * 1000 / total, 2),
    }
