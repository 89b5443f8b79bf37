"""llm: the request cache (answers keyed by model fingerprint and normalised request)"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "llm_0001"
down_revision = None
branch_labels = ("llm",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "llm_cache",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(512), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_llm_cache"),
    )
    op.create_index("ix_llm_cache_fingerprint", "llm_cache", ["fingerprint", "kind"])


def downgrade() -> None:
    op.drop_index("ix_llm_cache_fingerprint", table_name="llm_cache")
    op.drop_table("llm_cache")
