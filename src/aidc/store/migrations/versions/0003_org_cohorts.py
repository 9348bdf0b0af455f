"""organisation cohorts: every organisation made before 0002 gets its own cohort

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:30:00

From 0002 on, an organisation's projects share and lend quota in the organisation's cohort,
which the service creates with the organisation. Organisations that existed before had none,
so their projects sat directly under the root of the quota tree. This gives each of them a
cohort at the root, named like it (as ``services.quotas.ensure_org_cohort`` does), unless a
cohort or project already has that name: that organisation stays as it was.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

organisations = sa.table(
    "organisations",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("created_at", sa.Float),
    sa.column("cohort_id", sa.Integer),
)
cohorts = sa.table(
    "cohorts",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("parent_id", sa.Integer),
    sa.column("created_at", sa.Float),
)
projects = sa.table("projects", sa.column("name", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    taken = set(conn.scalars(sa.select(cohorts.c.name))) | set(
        conn.scalars(sa.select(projects.c.name))
    )
    without = conn.execute(
        sa.select(organisations.c.id, organisations.c.name, organisations.c.created_at)
        .where(organisations.c.cohort_id.is_(None))
        .order_by(organisations.c.id)
    ).all()
    for org_id, name, created_at in without:
        if name in taken:
            continue
        cohort_id = conn.execute(
            sa.insert(cohorts)
            .values(name=name, kind="organisation", parent_id=None, created_at=created_at)
            .returning(cohorts.c.id)
        ).scalar_one()
        conn.execute(
            sa.update(organisations).where(organisations.c.id == org_id).values(cohort_id=cohort_id)
        )
        taken.add(name)


def downgrade() -> None:
    # Data only: the cohorts are valid under 0002 as well, and may hold quotas by now.
    pass
