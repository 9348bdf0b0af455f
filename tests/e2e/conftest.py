from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def start_server(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., ServerProcess]]:
    """Start (and at the end stop) real server processes on this test's database.

    One API worker (the API in the controller's process) unless the module sets
    ``API_WORKERS``: a spawned worker imports the whole app again, about 2.5 s of a
    server's 5 s start, and most modules test what the API does, not how many processes
    serve it. The modules about workers (the token cache and metrics across
    processes, concurrency, crashes, load, the smoke test's 1 and 3) keep several."""
    started: list[ServerProcess] = []
    workers = getattr(request.module, "API_WORKERS", 1)

    def start(**kw: object) -> ServerProcess:
        kw.setdefault("workers", workers)
        s = ServerProcess(tmp_path / "home", db_url, **kw)  # type: ignore[arg-type]
        started.append(s)
        return s.start()

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()
