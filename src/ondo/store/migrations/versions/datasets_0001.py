"""datasets: dataset_versions, dataset_stat_cache"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "datasets_0001"
down_revision = None
branch_labels = ("datasets",)
depends_on = "core_0001"

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("bad_rows", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("profile", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
        sa.UniqueConstraint("name", "digest", name="uq_dataset_versions_name_digest"),
    )
    op.create_index("ix_dataset_versions_digest", "dataset_versions", ["digest"])
    op.create_table(
        "dataset_stat_cache",
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("inode", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("hashed_at_ns", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("host", "path", name="pk_dataset_stat_cache"),
    )


def downgrade() -> None:
    op.drop_table("dataset_stat_cache")
    op.drop_index("ix_dataset_versions_digest", table_name="dataset_versions")
    op.drop_table("dataset_versions")
