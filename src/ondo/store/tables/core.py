"""Experiment tracking tables, and run inputs (the lineage edge every domain writes)."""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import BigIntPK, Id, Name, metadata

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", Name, nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("experiment_id", Id, sa.ForeignKey("experiments.id"), nullable=False, index=True),
    sa.Column("name", Name, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("start_time", sa.Float, nullable=False, index=True),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("user", sa.String(255), nullable=True),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("git_dirty", sa.Boolean, nullable=True),
    sa.Column("command", sa.Text, nullable=True),
    sa.Column("python_version", sa.String(64), nullable=True),
    sa.Column("packages", sa.JSON, nullable=True),
    sa.Column("seed", sa.BigInteger, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", Name, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# flag: 0 finite, 1 NaN, 2 +inf, 3 -inf. value is NULL for NaN (SQLite cannot store NaN).
metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("run_id", Id, nullable=False),
    sa.Column("key", Name, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("flag", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", Id, primary_key=True),
    sa.Column("key", Name, primary_key=True),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("timestamp", sa.Float, nullable=False),
    sa.Column("flag", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", Name, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(71), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Lineage edge: a run used (role='input') or produced (role='output') a versioned thing.
# kind: 'dataset' | 'prompt' | 'model'; ref: canonical 'name/N'; digest: content digest of that version.
run_inputs = sa.Table(
    "run_inputs",
    metadata,
    sa.Column("run_id", Id, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("ref", sa.String(512), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True, server_default="input"),
    sa.Column("digest", sa.String(71), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_run_inputs_kind_ref", "kind", "ref"),
)
