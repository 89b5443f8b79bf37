"""LLM-as-judge: MT-Bench and KoMT-Bench graded by a judge model, as FastChat's llm_judge does it."""

from __future__ import annotations

from ondo.evals.judge.engine import CallStats, Judge, Limiter, Verdict, generate_answers
from ondo.evals.judge.mtbench import (
    CATEGORIES,
    MAX_NEW_TOKENS,
    NEED_REF_CATS,
    TEMPERATURE_CONFIG,
    Question,
    Suite,
    load_suite,
)
from ondo.evals.judge.results import PairOutcome, pair_outcomes, pairwise_scores, single_scores
from ondo.evals.judge.runner import MTBenchResult, evaluate_mt_bench, load_answers, load_verdicts
from ondo.evals.judge.verdicts import parse_rating, parse_winner, rating_grammar, winner_grammar

__all__ = [
    "CATEGORIES", "MAX_NEW_TOKENS", "NEED_REF_CATS", "TEMPERATURE_CONFIG", "CallStats", "Judge", "Limiter",
    "MTBenchResult", "PairOutcome", "Question", "Suite", "Verdict", "evaluate_mt_bench", "generate_answers",
    "load_answers", "load_suite", "load_verdicts", "pair_outcomes", "pairwise_scores", "parse_rating",
    "parse_winner", "rating_grammar", "single_scores", "winner_grammar",
]
