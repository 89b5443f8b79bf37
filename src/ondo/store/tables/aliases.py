"""Alias pointers and their append-only history, shared by prompts, models and datasets."""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import BigIntPK, Name, metadata

# kind: 'prompt' | 'model' | 'dataset'. The pointer row always equals the newest event.
aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", Name, primary_key=True),
    sa.Column("alias", Name, primary_key=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("event_id", sa.BigInteger, nullable=False),
)

alias_events = sa.Table(
    "alias_events",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", Name, nullable=False),
    sa.Column("alias", Name, nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # e.g. a promotion's requirements, their outcome, and whether it was forced (aliases_0002)
    sa.Column("details", sa.JSON, nullable=True),
    sa.Index("ix_alias_events_kind_name_alias", "kind", "name", "alias", "id"),
)
