from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def start_server(db_url: str, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start (and at the end stop) real server processes on this test's database."""
    started: list[ServerProcess] = []

    def start(**kw: object) -> ServerProcess:
        s = ServerProcess(tmp_path / "home", db_url, **kw)  # type: ignore[arg-type]
        started.append(s)
        return s.start()

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()
