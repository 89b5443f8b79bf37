"""aliases: alias pointers and their append-only event history"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "aliases_0001"
down_revision = None
branch_labels = ("aliases",)
depends_on = "core_0001"

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "aliases",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "alias", name="pk_aliases"),
    )
    op.create_table(
        "alias_events",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alias_events"),
    )
    op.create_index("ix_alias_events_kind_name_alias", "alias_events", ["kind", "name", "alias", "id"])


def downgrade() -> None:
    op.drop_table("alias_events")
    op.drop_table("aliases")
