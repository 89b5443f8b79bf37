"""registry: prompt versions, model versions, model datasets, registry tags"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("template", sa.Text, nullable=True),
        sa.Column("messages", sa.JSON, nullable=True),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("model", sa.String(512), nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_prompt_versions"),
        sa.UniqueConstraint("name", "digest", name="uq_prompt_versions_name_digest"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_model_versions_run_id_runs", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_model_versions_digest", "model_versions", ["digest"])
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_datasets",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("ref", sa.String(512), nullable=False),
        sa.Column("digest", sa.String(71), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", "ref", name="pk_model_version_datasets"),
    )
    op.create_index("ix_model_version_datasets_ref", "model_version_datasets", ["ref"])
    op.create_table(
        "registry_tags",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "version", "key", name="pk_registry_tags"),
    )


def downgrade() -> None:
    for name in ("registry_tags", "model_version_datasets", "model_versions", "prompt_versions"):
        op.drop_table(name)
