"""judge: judge_verdicts, judge_answers, arena_battles, human_queues, human_items, human_votes"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "judge_0001"
down_revision = None
branch_labels = ("judge",)
depends_on = "core_0001"

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "judge_verdicts",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("suite", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("question_id", sa.Integer, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("turn", sa.SmallInteger, nullable=False),
        sa.Column("game", sa.SmallInteger, nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("model_b", sa.String(255), nullable=True),
        sa.Column("judge", sa.String(255), nullable=False),
        sa.Column("prompt_name", sa.String(64), nullable=False),
        sa.Column("prompt_ref", sa.String(512), nullable=True),
        sa.Column("user_prompt", sa.Text, nullable=False),
        sa.Column("judgment", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("winner", sa.String(16), nullable=True),
        sa.Column("parsed", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_judge_verdicts"),
    )
    op.create_index("ix_judge_verdicts_run_question", "judge_verdicts", ["run_id", "question_id"])
    op.create_table(
        "judge_answers",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("question_id", sa.Integer, nullable=False),
        sa.Column("turns", sa.JSON, nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_judge_answers"),
    )
    op.create_index("ix_judge_answers_run_model", "judge_answers", ["run_id", "model", "question_id"])
    op.create_table(
        "arena_battles",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("prompt", sa.Text, nullable=True),
        sa.Column("model_a", sa.String(255), nullable=False),
        sa.Column("model_b", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("judge", sa.String(255), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_arena_battles"),
    )
    op.create_index("ix_arena_battles_created_at", "arena_battles", ["created_at", "id"])
    op.create_index("ix_arena_battles_models", "arena_battles", ["model_a", "model_b"])
    op.create_table(
        "human_queues",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rubric", sa.Text, nullable=True),
        sa.Column("source", sa.String(512), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_human_queues"),
        sa.UniqueConstraint("name", name="uq_human_queues_name"),
    )
    op.create_table(
        "human_items",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("response_a", sa.Text, nullable=False),
        sa.Column("response_b", sa.Text, nullable=True),
        sa.Column("model_a", sa.String(255), nullable=True),
        sa.Column("model_b", sa.String(255), nullable=True),
        sa.Column("ref", sa.String(512), nullable=True),
        sa.Column("meta", sa.JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["human_queues.id"], name="fk_human_items_queue_id_human_queues", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_human_items"),
    )
    op.create_index("ix_human_items_queue_position", "human_items", ["queue_id", "position"])
    op.create_table(
        "human_votes",
        sa.Column("id", BigIntPK, nullable=False, autoincrement=True),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("annotator", sa.String(255), nullable=False),
        sa.Column("choice", sa.String(16), nullable=True),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("swapped", sa.Boolean, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["human_items.id"], name="fk_human_votes_item_id_human_items", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_human_votes"),
        sa.UniqueConstraint("item_id", "annotator", name="uq_human_votes_item_id_annotator"),
    )
    op.create_index("ix_human_votes_queue_annotator", "human_votes", ["queue_id", "annotator"])


def downgrade() -> None:
    op.drop_table("human_votes")
    op.drop_table("human_items")
    op.drop_table("human_queues")
    op.drop_table("arena_battles")
    op.drop_table("judge_answers")
    op.drop_table("judge_verdicts")
