"""Fuzzing the HTTP API from its own OpenAPI schema (schemathesis): no 5xx, and every answer
has a status, content type, headers and body the schema declares.

The app is the real one over the matrix's world on SQLite, called in process. Each
operation gets ``AIDC_FUZZ_EXAMPLES`` examples (default 4, ``make fuzz`` runs many more),
as the center admin (the widest surface) and as a tenant's member.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from aidc import bootstrap
from aidc.api.app import create_app
from aidc.core.resources import Pool
from aidc.engines.local import LocalEngine
from aidc.services.center import Center
from aidc.services.nodes import sync_inventory
from aidc.settings import Settings
from aidc.store import migrate
from aidc.store.db import Database
from tests.conftest import local_node
from tests.security import world_data
from tests.security.world import World, build

EXAMPLES = int(os.environ.get("AIDC_FUZZ_EXAMPLES", "4"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    engine = LocalEngine(tmp / "home", [local_node()], grace_s=1.0)
    db = Database(f"sqlite:///{tmp / 'fuzz.db'}")
    migrate.upgrade(db.engine)
    c = Center(db=db, engines={"local": engine})
    world_data.wire_datasets(c, tmp / "home")
    sync_inventory(c, [Pool("local", "local")], engine.inventory())
    # No traces directory: a fuzzed simulation can name no trace file that exists.
    APP.state.settings = Settings(home=tmp / "home", traces_dir=tmp / "no-traces")
    world = build(c, APP.state.settings)
    RUNNING.center = APP.state.center = c
    yield world
    db.dispose()
    engine.close()


# The app serves whatever center the fixture puts here (its lifespan, which schemathesis
# runs around calls, must not start a center of its own).
RUNNING = bootstrap.Running(center=cast(Center, None), controller=None)
APP = create_app(Settings(), RUNNING)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("AIDC_FUZZ_RANDOM") != "1",
    database=None,
)


@pytest.mark.parametrize("role", ["center_admin", "a_member"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_api_conforms_to_its_schema(label: str, role: str, fuzz_world: World) -> None:
    headers = fuzz_world.headers(role)

    @given(case=OPERATIONS[label].as_strategy())
    @FUZZ
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
