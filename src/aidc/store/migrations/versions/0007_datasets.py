"""the dataset catalog: datasets, versions and files, access grants, the airlock, the
append-only dataset audit log and the storage ledger

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:38:27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("project", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dataset_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_audit_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_audit_at"), ["at"], unique=False)
        batch_op.create_index("ix_dataset_audit_dataset_at", ["dataset", "at"], unique=False)

    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("card", sa.Text(), nullable=False),
        sa.Column("licence", sa.String(length=128), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_datasets_owner_org_id"), ["owner_org_id"], unique=False
        )

    op.create_table(
        "storage_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("byte_days", sa.Float(), nullable=False),
        sa.Column("metered_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "day"),
    )
    with op.batch_alter_table("storage_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_storage_ledger_org_id"), ["org_id"], unique=False)

    op.create_table(
        "airlock_outputs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=16), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", sa.Float(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id"),
    )
    with op.batch_alter_table("airlock_outputs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_airlock_outputs_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "dataset_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dataset_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_grants_course_id"), ["course_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_grants_dataset_id"), ["dataset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_grants_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("upload_id", sa.String(length=32), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("committed_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "version"),
        sa.UniqueConstraint("upload_id"),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_versions_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "dataset_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "idx"),
        sa.UniqueConstraint("version_id", "path"),
    )
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_files_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_files_version_id"))

    op.drop_table("dataset_files")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_versions_dataset_id"))

    op.drop_table("dataset_versions")
    with op.batch_alter_table("dataset_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_grants_project_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_grants_course_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_grants_dataset_id"))

    op.drop_table("dataset_grants")
    with op.batch_alter_table("airlock_outputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_airlock_outputs_project_id"))

    op.drop_table("airlock_outputs")
    with op.batch_alter_table("storage_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_ledger_org_id"))

    op.drop_table("storage_ledger")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasets_owner_org_id"))

    op.drop_table("datasets")
    with op.batch_alter_table("dataset_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_audit_dataset_at")
        batch_op.drop_index(batch_op.f("ix_dataset_audit_at"))
        batch_op.drop_index(batch_op.f("ix_dataset_audit_actor"))

    op.drop_table("dataset_audit")
