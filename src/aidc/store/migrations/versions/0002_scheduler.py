"""scheduler: quotas, cohorts, usage, policy, preemption

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:25:16.150079
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["cohorts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("nominal", sa.Float(), nullable=False),
        sa.Column("borrowing_limit", sa.Float(), nullable=True),
        sa.Column("lending_limit", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_kind", "owner_id", "resource"),
    )
    op.create_table(
        "project_usage",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("decayed", sa.Float(), nullable=False),
        sa.Column("as_of", sa.Float(), nullable=False),
        sa.Column("accelerator_seconds", sa.Float(), nullable=False),
        sa.Column("lost_accelerator_seconds", sa.Float(), nullable=False),
        sa.Column("preemptions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "job_waits",
        sa.Column("job_seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("project_position", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("estimated_start", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_seq"],
            ["jobs.seq"],
        ),
        sa.PrimaryKeyConstraint("job_seq"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("accelerator_memory_gb", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "priority_class", sa.String(length=16), nullable=False, server_default="normal"
            )
        )
        batch_op.add_column(sa.Column("nice", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("time_limit_s", sa.Float(), nullable=False, server_default="86400")
        )
        batch_op.add_column(sa.Column("spread", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("same_rack", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("preempt_requested_at", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("borrowing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("preemptions", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("lost_accelerator_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.alter_column(
            "accelerator_type",
            existing_type=sa.VARCHAR(length=32),
            type_=sa.String(length=128),
            existing_nullable=True,
        )

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cohort_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_organisations_cohort_id", "cohorts", ["cohort_id"], ["id"])

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shares", sa.Float(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("shares")

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_organisations_cohort_id", type_="foreignkey")
        batch_op.drop_column("cohort_id")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "accelerator_type",
            existing_type=sa.String(length=128),
            type_=sa.VARCHAR(length=32),
            existing_nullable=True,
        )
        batch_op.drop_column("lost_accelerator_seconds")
        batch_op.drop_column("preemptions")
        batch_op.drop_column("attempt")
        batch_op.drop_column("borrowing")
        batch_op.drop_column("preempt_requested_at")
        batch_op.drop_column("same_rack")
        batch_op.drop_column("spread")
        batch_op.drop_column("time_limit_s")
        batch_op.drop_column("nice")
        batch_op.drop_column("priority_class")
        batch_op.drop_column("accelerator_memory_gb")

    op.drop_table("job_waits")
    op.drop_table("project_usage")
    op.drop_table("quotas")
    op.drop_table("policies")
    op.drop_table("cohorts")
