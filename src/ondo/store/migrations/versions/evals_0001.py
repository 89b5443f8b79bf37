"""evals: benchmark task results and per-item records"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evals_0001"
down_revision = None
branch_labels = ("evals",)
depends_on = "core_0001"

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "eval_bench_tasks",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("group_name", sa.String(255), nullable=True),
        sa.Column("is_group", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("n_items", sa.Integer, nullable=False),
        sa.Column("n_skipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("num_fewshot", sa.Integer, nullable=False, server_default="0"),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("config", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "task", name="pk_eval_bench_tasks"),
    )
    op.create_table(
        "eval_bench_items",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("doc_id", sa.Integer, nullable=False),
        sa.Column("source_line", sa.Integer, nullable=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("choices", sa.JSON, nullable=True),
        sa.Column("loglikelihoods", sa.JSON, nullable=True),
        sa.Column("is_greedy", sa.JSON, nullable=True),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("prediction", sa.Text, nullable=True),
        sa.Column("gold", sa.Text, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_eval_bench_items"),
        sa.UniqueConstraint("run_id", "task", "doc_id", name="uq_eval_bench_items_run_id_task_doc_id"),
    )
    op.create_index("ix_eval_bench_items_run_id_task_score", "eval_bench_items", ["run_id", "task", "score"])


def downgrade() -> None:
    op.drop_table("eval_bench_items")
    op.drop_table("eval_bench_tasks")
