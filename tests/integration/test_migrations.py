"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from aidc.store.db import Database
from aidc.store.migrate import alembic_config
from aidc.store.models import Base


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade_round_trips(db: Database) -> None:
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert {"jobs", "job_events", "nodes", "api_tokens"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_organisations_from_before_cohorts_get_their_own(db: Database) -> None:
    """An organisation made under 0001 had no cohort; upgrading gives it one named like it,
    and its projects then share quota in it (unless the name is taken: left alone)."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisations (name, kind, created_at, cohort_id) VALUES "
                "('old-lab', 'university', 10.0, NULL), ('clash', 'startup', 11.0, NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cohorts (name, kind, parent_id, created_at) "
                "VALUES ('clash', 'program', NULL, 5.0)"
            )
        )
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        rows = {
            org: (cohort, kind, created)
            for org, cohort, kind, created in conn.execute(
                text(
                    "SELECT o.name, c.name, c.kind, c.created_at "
                    "FROM organisations o LEFT JOIN cohorts c ON c.id = o.cohort_id"
                )
            )
        }
    assert rows["old-lab"] == ("old-lab", "organisation", 10.0)
    assert rows["clash"] == (None, None, None)
