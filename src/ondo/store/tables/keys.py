"""Gateway API keys: only a sha256 of each key is kept, found by its public prefix."""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import Id, Name, metadata

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", Name, nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("models", sa.Text, nullable=True),  # JSON list of model patterns; NULL = every model
    sa.Column("budget_usd", sa.Float, nullable=True),
    sa.Column("spent_usd", sa.Float, nullable=False),
    sa.Column("rpm", sa.Integer, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("last_used_at", sa.Float, nullable=True),
    sa.Index("ix_api_keys_name", "name"),
)
