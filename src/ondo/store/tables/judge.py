"""LLM-as-judge verdicts, arena battles and human annotation (queues, items, votes).

One module for the three evaluation families that judge answers rather than score them: a judge's
verdict, a battle in the arena and a person's vote are the same kind of record (who preferred what,
when, and why), and they feed each other (a pairwise verdict becomes a battle; a vote too).
"""

from __future__ import annotations

import sqlalchemy as sa

from ondo.store.tables.base import BigIntPK, Id, Name, metadata

# One judge call's outcome. mode 'single': score 1-10; mode 'pairwise': game 1 shows model as A,
# game 2 shows model_b as A; winner is 'model_1' | 'model_2' | 'tie'. parsed=False rows are counted,
# never averaged.
judge_verdicts = sa.Table(
    "judge_verdicts",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("run_id", Id, nullable=True),
    sa.Column("suite", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("question_id", sa.Integer, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("turn", sa.SmallInteger, nullable=False),
    sa.Column("game", sa.SmallInteger, nullable=False),
    sa.Column("model", Name, nullable=False),
    sa.Column("model_b", Name, nullable=True),
    sa.Column("judge", Name, nullable=False),
    sa.Column("prompt_name", sa.String(64), nullable=False),
    sa.Column("prompt_ref", sa.String(512), nullable=True),
    sa.Column("user_prompt", sa.Text, nullable=False),
    sa.Column("judgment", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("winner", sa.String(16), nullable=True),
    sa.Column("parsed", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_judge_verdicts_run_question", "run_id", "question_id"),
)

# The answers a run judged (generated or published), so a queue or a re-judge can be built from it.
judge_answers = sa.Table(
    "judge_answers",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("run_id", Id, nullable=False),
    sa.Column("model", Name, nullable=False),
    sa.Column("question_id", sa.Integer, nullable=False),
    sa.Column("turns", sa.JSON, nullable=False),
    sa.Column("generated", sa.Boolean, nullable=False),
    sa.Index("ix_judge_answers_run_model", "run_id", "model", "question_id"),
)

# outcome: 'a' | 'b' | 'tie' | 'tie (bothbad)' (FastChat's winner values model_a / model_b map to a / b).
# judge: a person (annotator name) or a model version; source: 'judge' | 'human' | 'import'.
arena_battles = sa.Table(
    "arena_battles",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("prompt", sa.Text, nullable=True),
    sa.Column("model_a", Name, nullable=False),
    sa.Column("model_b", Name, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("judge", Name, nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("run_id", Id, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_arena_battles_created_at", "created_at", "id"),
    sa.Index("ix_arena_battles_models", "model_a", "model_b"),
)

# kind: 'pairwise' (blind A/B vote) | 'rating' (one response scored against the rubric).
human_queues = sa.Table(
    "human_queues",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", Name, nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("rubric", sa.Text, nullable=True),
    sa.Column("source", sa.String(512), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

human_items = sa.Table(
    "human_items",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("queue_id", Id, sa.ForeignKey("human_queues.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("response_a", sa.Text, nullable=False),
    sa.Column("response_b", sa.Text, nullable=True),
    sa.Column("model_a", Name, nullable=True),
    sa.Column("model_b", Name, nullable=True),
    sa.Column("ref", sa.String(512), nullable=True),
    sa.Column("meta", sa.JSON, nullable=True),
    sa.Index("ix_human_items_queue_position", "queue_id", "position"),
)

# choice (pairwise) in the item's own terms: 'model_a' | 'model_b' | 'tie' | 'tie (bothbad)';
# swapped: the sides were shown B-left; rating (kind 'rating'): the rubric score.
human_votes = sa.Table(
    "human_votes",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("queue_id", Id, nullable=False),
    sa.Column("item_id", Id, sa.ForeignKey("human_items.id", ondelete="CASCADE"), nullable=False),
    sa.Column("annotator", Name, nullable=False),
    sa.Column("choice", sa.String(16), nullable=True),
    sa.Column("rating", sa.Float, nullable=True),
    sa.Column("swapped", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("item_id", "annotator"),
    sa.Index("ix_human_votes_queue_annotator", "queue_id", "annotator"),
)
