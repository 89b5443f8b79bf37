"""Benchmark results: one row per (run, task) with its metrics, one row per scored item.

Per-item rows keep what a person needs to see why a score is what it is (the prompt, the choices,
each choice's log-likelihood, the prediction and the gold answer), so they can be queried (worst
items of a task) and exported without re-running the model.
"""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import BigIntPK, Id, Name, metadata

eval_bench_tasks = sa.Table(
    "eval_bench_tasks",
    metadata,
    sa.Column("run_id", Id, primary_key=True),
    sa.Column("task", Name, primary_key=True),
    sa.Column("group_name", Name, nullable=True),
    sa.Column("is_group", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("n_items", sa.Integer, nullable=False),
    sa.Column("n_skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("num_fewshot", sa.Integer, nullable=False, server_default="0"),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("config", sa.JSON, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

eval_bench_items = sa.Table(
    "eval_bench_items",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("run_id", Id, nullable=False),
    sa.Column("task", Name, nullable=False),
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
    sa.UniqueConstraint("run_id", "task", "doc_id", name="uq_eval_bench_items_run_id_task_doc_id"),
    sa.Index("ix_eval_bench_items_run_id_task_score", "run_id", "task", "score"),
)
