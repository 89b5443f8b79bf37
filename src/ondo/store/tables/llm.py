"""The LLM request cache: one row per (model fingerprint, normalised request) answer."""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import metadata

# key = sha256 hex of {fingerprint, kind, normalised request}; kind: chat | generate | loglikelihood | embed
llm_cache = sa.Table(
    "llm_cache",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("fingerprint", sa.String(512), nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_llm_cache_fingerprint", "fingerprint", "kind"),
)
