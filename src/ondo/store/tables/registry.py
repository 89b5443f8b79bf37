"""Registry tables: immutable prompt and model versions, their datasets, and mutable tags.

Aliases (``name@production``) live in the shared alias tables; these tables only hold the
versions they point at. A version row is never updated after it is written; tags are the
one mutable thing and sit in their own table.
"""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import Id, Name, metadata

# A text prompt has ``template``; a chat prompt has ``messages`` (a list of {role, content}).
# digest: sha256 over the canonical JSON of the content (template/messages, variables, model, params).
prompt_versions = sa.Table(
    "prompt_versions",
    metadata,
    sa.Column("name", Name, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("template", sa.Text, nullable=True),
    sa.Column("messages", sa.JSON, nullable=True),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("model", sa.String(512), nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.UniqueConstraint("name", "digest"),
)

# kind: 'gguf' | 'hf' | 'lora' | 'file' | 'dir' | 'api'. source: absolute path, or 'api:<provider>/<model>'.
# spec: the API spec, or what was found in the weights (files, base model of an adapter).
model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", Name, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(71), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
)

# The dataset versions a model version was trained or tuned on (ref: 'name/N' where it could be pinned).
model_version_datasets = sa.Table(
    "model_version_datasets",
    metadata,
    sa.Column("name", Name, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("ref", sa.String(512), primary_key=True),
    sa.Column("digest", sa.String(71), nullable=True),
    sa.Index("ix_model_version_datasets_ref", "ref"),
)

# Mutable labels on a prompt or model version. kind: 'prompt' | 'model'.
registry_tags = sa.Table(
    "registry_tags",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", Name, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("key", Name, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
