"""Spans: one row per traced operation (gateway call, SDK span), with the columns people filter on
extracted so listing and monitoring never parse the attribute JSON."""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import Name, metadata

# ids follow OpenTelemetry: trace_id 32 hex (128 bit), span_id 16 hex (64 bit), so an OTLP export keeps them.
spans = sa.Table(
    "spans",
    metadata,
    sa.Column("span_id", sa.String(16), primary_key=True),
    sa.Column("trace_id", sa.String(32), nullable=False),
    sa.Column("parent_id", sa.String(16), nullable=True),
    sa.Column("name", Name, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("model", Name, nullable=True),
    sa.Column("model_version", sa.Integer, nullable=True),
    sa.Column("model_alias", Name, nullable=True),
    sa.Column("provider", sa.String(64), nullable=True),
    sa.Column("prompt_version", Name, nullable=True),
    sa.Column("input_tokens", sa.Integer, nullable=True),
    sa.Column("output_tokens", sa.Integer, nullable=True),
    sa.Column("cost_usd", sa.Float, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("ttft_ms", sa.Float, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("start_time", sa.Float, nullable=False),
    sa.Column("end_time", sa.Float, nullable=True),
    sa.Column("attributes", sa.Text, nullable=True),  # JSON object
    sa.Column("input", sa.Text, nullable=True),  # redacted body (JSON or text)
    sa.Column("output", sa.Text, nullable=True),
    sa.Index("ix_spans_trace_id", "trace_id"),
    sa.Index("ix_spans_start_time", "start_time"),
    sa.Index("ix_spans_model_start_time", "model", "start_time"),
    sa.Index("ix_spans_name_start_time", "name", "start_time"),
)
