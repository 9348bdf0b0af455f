"""Shared fixtures: a database per test on SQLite and (when configured) PostgreSQL.

AIDC_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres runs every
database-backed test on PostgreSQL as well; each test gets a fresh database there (made
ahead from a migrated template: tests/database_pool.py).
AIDC_REQUIRE_ALL=1 (set by .ci/run) turns every "skip: not available here" into a failure.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from aidc.core.resources import Node, Pool
from aidc.engines.local import LocalEngine
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.store import migrate
from aidc.store.db import Database
from tests.database_pool import PostgresPool, migrated, migrated_sqlite_copy

# Dataset fixtures (ds_storage, s3_endpoint, dc, people): moto's S3 server and a catalog.
pytest_plugins = ["tests.datasets_storage", "tests.integration.datasets_env"]

REQUIRE_ALL = os.environ.get("AIDC_REQUIRE_ALL") == "1"
PG_ADMIN_URL = os.environ.get("AIDC_TEST_DATABASE_URL")


def skip_or_fail(reason: str) -> None:
    """Skip where a system service is missing, but fail in CI where it must exist."""
    if REQUIRE_ALL:
        pytest.fail(f"AIDC_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "aidc.db"
    migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_pool() -> Iterator[PostgresPool]:
    if not PG_ADMIN_URL:
        skip_or_fail("AIDC_TEST_DATABASE_URL is not set (no PostgreSQL to test against)")
    assert PG_ADMIN_URL is not None
    admin = make_url(PG_ADMIN_URL)
    try:
        pool = PostgresPool(PG_ADMIN_URL).start()
    except psycopg.OperationalError as e:
        skip_or_fail(f"PostgreSQL at {admin.host}:{admin.port} does not answer: {e}")
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL nobody else uses, with the newest schema and no rows: SQLite in
    tmp_path, or a new PostgreSQL database (tests/database_pool.py)."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        yield migrated_sqlite_copy(template, tmp_path / "aidc.db")
        return
    pool: PostgresPool = request.getfixturevalue("_postgres_pool")
    url = pool.take()
    try:
        yield url
    finally:
        pool.give_back(url)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def local_node(name: str = "node-1", gpus: int = 4, cpus: int = 8, accel: str = "a100") -> Node:
    return Node(name, "local", cpus, 32 * 1024, accel, tuple(range(gpus)), {"pool": "local"})


@pytest.fixture
def center(db: Database, tmp_path: Path) -> Iterator[Center]:
    """A center on a fresh database with one local node of 4 virtual a100s and 8 cpus."""
    engine = LocalEngine(tmp_path / "home", [local_node()], grace_s=1.0)
    c = Center(db=db, engines={"local": engine})
    sync_inventory(c, [Pool("local", "local")], engine.inventory())
    yield c
    engine.close()


RAY_MODULES = (
    "tests/integration/test_hybrid_center.py",
    "tests/integration/test_ray_engine.py",
    "tests/integration/test_notebooks_ray.py",
    "tests/integration/test_datasets_engines.py",
    "tests/integration/test_validation_engines.py",
    "tests/integration/test_environment_modules.py",
)
_last_ray_test: list[pytest.Item] = []


def _uses_ray(item: pytest.Item) -> bool:
    return item.nodeid.startswith(RAY_MODULES) or "[ray]" in item.nodeid


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """The tests that use the shared Ray cluster (tests/ray_cluster.py) run back to back:
    the Ray modules right after the conformance suite's last Ray test, so that the
    cluster (~800 MiB) is up only while they run, not through the rest of the suite."""
    _keep_e2e_postgresql_to_its_core(config, items)
    mine = [i for i in items if i.nodeid.startswith(RAY_MODULES)]
    rest = [i for i in items if not i.nodeid.startswith(RAY_MODULES)]
    last = max((k for k, i in enumerate(rest) if _uses_ray(i)), default=None)
    if mine and last is not None:
        items[:] = rest[: last + 1] + mine + rest[last + 1 :]
    _last_ray_test[:] = [i for i in items if _uses_ray(i)][-1:]


# End-to-end modules whose PostgreSQL variant runs in the default suite: the smoke test, and
# the ones where the database's own behaviour under many writers and kills is what is
# tested (the crash test also checks restarts, re-adoption and the ledger's totals). Every
# other e2e module drives the same services the integration tests already run on both
# databases, so its PostgreSQL variant runs only with AIDC_E2E_POSTGRESQL=all
# (`make test-all`); that keeps `make test` inside CI's 30 minutes.
E2E_POSTGRESQL = (
    "tests/e2e/test_smoke.py",
    "tests/e2e/test_crash_recovery.py",
    "tests/e2e/test_load.py",
)


def _on_postgresql(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)  # ids like "postgresql-1", "s3-postgresql"
    return callspec is not None and "postgresql" in callspec.id.split("-")


def _keep_e2e_postgresql_to_its_core(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("AIDC_E2E_POSTGRESQL") == "all":
        return
    dropped = [
        i
        for i in items
        if i.nodeid.startswith("tests/e2e/")
        and _on_postgresql(i)
        and not i.nodeid.startswith(E2E_POSTGRESQL)
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        keep = set(map(id, dropped))
        items[:] = [i for i in items if id(i) not in keep]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield  # the test's fixtures are torn down first
    if _last_ray_test and item is _last_ray_test[0]:
        from tests import ray_cluster

        ray_cluster.shutdown()


# Run as root, the local engine isolates jobs by default: they run as their organisations'
# users, who must pass through every folder above aidc's home. pytest's own temp folders
# are root's 0700 (and pytest resets /tmp/pytest-of-root to 0700 whenever any session
# starts), so the suite's live in a folder of their own, every level passable (o+x, never
# listable), removed after a session that passed.
PASSABLE_TEMP = Path("/tmp/aidc-pytest-of-root")


@pytest.hookimpl(tryfirst=True)  # before pytest's tmp_path plugin reads the option
def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        return
    # The jobs' Python (notebooks, environments) too: a pyenv under /root (0700), as in
    # CI, is opened to passing through (o+x), which the server itself refuses to do.
    for folder in Path(os.path.realpath(sys.executable)).parents:
        if not os.stat(folder).st_mode & 0o001:
            os.chmod(folder, os.stat(folder).st_mode | 0o001)
    if config.option.basetemp is None:
        PASSABLE_TEMP.mkdir(mode=0o711, exist_ok=True)
        os.chmod(PASSABLE_TEMP, 0o711)
        config.option.basetemp = str(PASSABLE_TEMP / f"pytest-{os.getpid()}")
        config.stash[_OWN_BASETEMP] = True


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.geteuid() != 0:
        return
    factory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    mktemp = factory.mktemp

    def passable_mktemp(basename: str, numbered: bool = True) -> Path:
        path: Path = mktemp(basename, numbered)
        base = factory.getbasetemp()
        for folder in (path, *path.parents):
            os.chmod(folder, os.stat(folder).st_mode | 0o011)
            if folder == base:
                break
        return path

    factory.mktemp = passable_mktemp  # tmp_path and tmp_path_factory both call it


_OWN_BASETEMP = pytest.StashKey[bool]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The Ray cluster, if a test started it and it is still up (-x, -k, interrupts).
    from tests import ray_cluster

    ray_cluster.shutdown()
    if exitstatus == 0 and session.config.stash.get(_OWN_BASETEMP, False):
        shutil.rmtree(session.config.option.basetemp, ignore_errors=True)
