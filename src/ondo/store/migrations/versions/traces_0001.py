"""traces: spans with extracted columns"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "traces_0001"
down_revision = None
branch_labels = ("traces",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "spans",
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("model_version", sa.Integer, nullable=True),
        sa.Column("model_alias", sa.String(255), nullable=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("prompt_version", sa.String(255), nullable=True),
        sa.Column("input_tokens", sa.Integer, nullable=True),
        sa.Column("output_tokens", sa.Integer, nullable=True),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float, nullable=True),
        sa.Column("attributes", sa.Text, nullable=True),
        sa.Column("input", sa.Text, nullable=True),
        sa.Column("output", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("span_id", name="pk_spans"),
    )
    op.create_index("ix_spans_trace_id", "spans", ["trace_id"])
    op.create_index("ix_spans_start_time", "spans", ["start_time"])
    op.create_index("ix_spans_model_start_time", "spans", ["model", "start_time"])
    op.create_index("ix_spans_name_start_time", "spans", ["name", "start_time"])


def downgrade() -> None:
    op.drop_table("spans")
