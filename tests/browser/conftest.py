"""A real `aidc server --demo` (SQLite) and Debian's Chromium driven by Playwright; every
test's screenshots go to one folder, named at the end of the run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from tests.server_process import ServerProcess

CHROMIUM = Path(os.environ.get("AIDC_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("AIDC_ARTIFACTS", "test-artifacts")) / "portal"
DEMO_PASSWORD = "aidc-demo-password"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    yield ARTIFACTS
    count = len(list(ARTIFACTS.glob("*.png")))
    print(f"\nportal screenshots ({count}): {ARTIFACTS.resolve()}")


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, and later tests (notebook kernels, the load test) call asyncio.run().
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("portal")
    server = ServerProcess(home / "home", f"sqlite:///{home / 'aidc.db'}", grace_s=1.0)
    server.start()
    yield server
    server.stop()


class Portal:
    """One logged-in browser context (its own cookies) and a way to take screenshots."""

    def __init__(self, browser: Any, server: ServerProcess, artifacts: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        # Script errors and CSP violations land in the console: a page must make none.
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.url = server.url + "/portal"
        self.artifacts = artifacts

    def login(self, username: str, password: str = DEMO_PASSWORD) -> Portal:
        self.page.goto(self.url + "/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.url + "/")
        return self

    def go(self, path: str) -> Any:
        return self.page.goto(self.url + path)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def portal(browser: Any, portal_server: ServerProcess, artifacts: Path) -> Iterator[Any]:
    opened: list[Portal] = []

    def open_as(username: str | None = None) -> Portal:
        p = Portal(browser, portal_server, artifacts)
        opened.append(p)
        return p.login(username) if username else p

    yield open_as
    for p in opened:
        p.close()
    # 4xx answers the tests asked for are logged as "Failed to load resource"; nothing else.
    errors = [e for p in opened for e in p.errors if "Failed to load resource" not in e]
    assert errors == []
