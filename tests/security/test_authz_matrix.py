"""Every route x role x target of the real app against the table in ``authz_table``.

The world is built once through the services on SQLite; reads share it, and every write
cell runs on its own copy of the database, so no cell sees another's changes. The reads
also run on PostgreSQL (a smoke subset of the matrix) where it is configured.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aidc.api.app import create_app
from aidc.api.limits import SignInLimiter
from aidc.core.resources import Pool
from aidc.engines.local import LocalEngine
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.settings import Settings
from aidc.store import migrate
from aidc.store.db import Database
from tests.conftest import PG_ADMIN_URL, local_node, skip_or_fail
from tests.security import matrix, world_data
from tests.security.authz_table import TABLE, Rule
from tests.security.world import ROLES, World, build, copy_sqlite

APP_ROUTES = matrix.app_routes(create_app(Settings()))


@dataclass
class Env:
    client: TestClient
    world: World
    engine: LocalEngine
    template: Path
    tmp: Path

    def use(self, db: Database) -> Center:
        c = Center(db=db, engines={"local": self.engine})
        world_data.wire_datasets(c, self.tmp / "home")
        self.client.app.state.center = c  # type: ignore[attr-defined]
        return c


def _center(db: Database, engine: LocalEngine, home: Path) -> Center:
    c = Center(db=db, engines={"local": engine})
    world_data.wire_datasets(c, home)
    sync_inventory(c, [Pool("local", "local")], engine.inventory())
    return c


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("authz")
    engine = LocalEngine(tmp / "home", [local_node()], grace_s=1.0)
    template = tmp / "world.db"
    db = Database(f"sqlite:///{template}")
    migrate.upgrade(db.engine)
    settings = Settings(home=tmp / "home", database_url=db.url)
    world = build(_center(db, engine, tmp / "home"), settings)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    e = Env(client, world, engine, template, tmp)
    e.use(db)
    yield e
    db.dispose()
    engine.close()


def test_every_route_has_an_entry() -> None:
    missing = [f"{m} {p}" for m, p in APP_ROUTES if (m, p) not in TABLE]
    assert not missing, "routes without an authz_table entry:\n" + "\n".join(missing)
    stale = [f"{m} {p}" for m, p in TABLE if (m, p) not in APP_ROUTES]
    assert not stale, "authz_table entries for routes the app lacks:\n" + "\n".join(stale)


def _cells(rule: Rule) -> list[tuple[str, str]]:
    return [(role, t) for role in ROLES for t in rule.targets]


def _run_cell(env: Env, key: tuple[str, str], rule: Rule, role: str, target: str) -> str | None:
    # A public object (a catalog entry) may be named in a denial: no not-found to compare.
    cross = matrix.is_cross_tenant(role, target) and not (rule.any_tenant or rule.public)
    # Sign-in attempts are rate limited per process; the matrix makes many on purpose.
    env.client.app.state.sign_in = SignInLimiter()  # type: ignore[attr-defined]
    if key[0] == "GET":
        missing = matrix.call(env.client, env.world, key, rule, role, target, missing=True)
        got = matrix.call(env.client, env.world, key, rule, role, target)
    else:  # a write: a fresh copy of the world
        path = env.tmp / f"cell-{secrets.token_hex(4)}.db"
        copy_sqlite(env.template, path)
        db = Database(f"sqlite:///{path}")
        try:
            env.use(db)
            missing = matrix.call(env.client, env.world, key, rule, role, target, missing=True)
            got = matrix.call(env.client, env.world, key, rule, role, target)
        finally:
            db.dispose()
    problem = matrix.judge(rule, role, target, got, missing if cross else None)
    if problem is None and target == "-" and key[0] == "GET" and not rule.public:
        found = matrix.leaks(env.world, role, got.response)
        problem = f"leaks the other tenant's {found}" if found else None
    return problem


@pytest.mark.parametrize("key", sorted(TABLE), ids=lambda k: f"{k[0]} {k[1]}")
def test_route_matrix(env: Env, key: tuple[str, str]) -> None:
    rule = TABLE[key]
    template_db = env.client.app.state.center.db  # type: ignore[attr-defined]
    problems = []
    try:
        for role, target in _cells(rule):
            problem = _run_cell(env, key, rule, role, target)
            if problem:
                problems.append(f"{role} on {target}: {problem}")
    finally:
        env.use(template_db)
    assert not problems, f"{key[0]} {key[1]}:\n" + "\n".join(problems)


def test_the_leak_check_can_fail(env: Env) -> None:
    """An operator sees both tenants' jobs, so the same check on its answer finds them."""
    r = env.client.get("/v1/jobs", headers=env.world.headers("center_admin"))
    both = {env.world.objects[t]["job_id"] for t in ("A", "B")}
    assert both <= {j["id"] for j in r.json()}
    assert matrix.leaks(env.world, "a_member", r)


def test_reads_on_postgresql(tmp_path: Path) -> None:
    """The read half of the matrix on PostgreSQL (the write half shares the services)."""
    if not PG_ADMIN_URL:
        skip_or_fail("AIDC_TEST_DATABASE_URL is not set (no PostgreSQL to test against)")
    import psycopg
    from sqlalchemy import make_url

    admin = make_url(PG_ADMIN_URL)
    name = f"aidc_test_{secrets.token_hex(6)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = LocalEngine(tmp_path / "home", [local_node()], grace_s=1.0)
    db = Database(admin.set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(db.engine)
        settings = Settings(home=tmp_path / "home")
        world = build(_center(db, engine, tmp_path / "home"), settings)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        env = Env(client, world, engine, tmp_path / "unused.db", tmp_path)
        env.use(db)
        problems = []
        for key, rule in sorted(TABLE.items()):
            if key[0] != "GET":
                continue
            for role, target in _cells(rule):
                problem = _run_cell(env, key, rule, role, target)
                if problem:
                    problems.append(f"{key} {role} on {target}: {problem}")
        assert not problems, "\n".join(problems)
    finally:
        db.dispose()
        engine.close()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("tier", ["dataset", "registered", "restricted"])
def test_dataset_bytes_follow_the_tier(env: Env, tier: str) -> None:
    """The table's byte routes use the public dataset; the other tiers, per role x target:
    registered data for its own organisation and the operators (no organisation of the
    world has an active allocation), restricted data for nobody over the API."""
    problems = []
    for role in ROLES:
        for target in ("A", "B"):
            name = env.world.objects[target][tier]
            for what in ("files/data.csv", "archive", "preview?path=data.csv"):
                r = env.client.get(
                    f"/v1/datasets/{name}/versions/1/{what}", headers=env.world.headers(role)
                )
                own = matrix.OWN_TARGET.get(role) == target or role == "center_admin"
                want = {"dataset": role != "anonymous", "registered": own, "restricted": False}
                if want[tier] != (r.status_code == 200):
                    problems.append(f"{role} on {target} {what}: {r.status_code}")
                elif not want[tier] and r.status_code != (401 if role == "anonymous" else 403):
                    problems.append(f"{role} on {target} {what}: refused with {r.status_code}")
    assert not problems, "\n".join(problems)
