"""Reading a judge's verdict out of its text, exactly as FastChat does, and grammars that force one.

FastChat looks for ``[[rating]]`` first and ``[rating]`` second (single grading), and for the first
of ``[[A]]``, ``[[B]]``, ``[[C]]`` present in the text (pairwise). A local judge can be constrained with
a GBNF grammar so its text always ends in a verdict; the explanation before it is bounded so the
verdict fits inside the token budget.
"""

from __future__ import annotations

import ast
import re

# fastchat/llm_judge/common.py
ONE_SCORE_PATTERN = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_PATTERN_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")

WINNERS = ("A", "B", "tie")


def parse_rating(judgment: str) -> float | None:
    """The 1-10 rating in a single-grading judgment, or None when there is none (FastChat's -1)."""
    match = re.search(ONE_SCORE_PATTERN, judgment) or re.search(ONE_SCORE_PATTERN_BACKUP, judgment)
    if not match:
        return None
    value = ast.literal_eval(match.groups()[0])
    return float(value)


def parse_winner(judgment: str) -> str | None:
    """'A', 'B' or 'tie' from a pairwise judgment (checked in FastChat's order), None for "error"."""
    if "[[A]]" in judgment:
        return "A"
    if "[[B]]" in judgment:
        return "B"
    if "[[C]]" in judgment:
        return "tie"
    return None


# Room kept for the verdict itself ("\nRating: [[10]]" is at most ~10 tokens, one char each at worst: 16).
_VERDICT_RESERVE = 16
# llama.cpp's grammar parser takes a repetition ``x{0,N}`` only up to N = 2000 (MAX_REPETITION_THRESHOLD);
# above it the grammar is dropped without a word and the judge samples unconstrained, so with FastChat's
# 2,048-token budget a small model rambled past the budget and never gave a verdict.
MAX_EXPLANATION_CHARS = 2000


def explanation_budget(max_tokens: int) -> int:
    """Characters of explanation allowed so the verdict always fits in ``max_tokens`` (a token is >= 1 char),
    and at most ``MAX_EXPLANATION_CHARS`` (about 400 tokens of English, a GPT-4 judgment's usual length)."""
    return max(0, min(max_tokens - _VERDICT_RESERVE, MAX_EXPLANATION_CHARS))


def rating_grammar(max_tokens: int, label: str = "Rating") -> str:
    """GBNF: a bounded explanation, then ``Rating: [[N]]`` with N in 1..10."""
    n = explanation_budget(max_tokens)
    return (
        f'root ::= explanation "\\n{_gbnf_escape(label)}: [[" rating "]]"\n'
        f"explanation ::= [^\\[\\]]{{0,{n}}}\n"
        'rating ::= "10" | [1-9]\n'
    )


def winner_grammar(max_tokens: int) -> str:
    """GBNF: a bounded explanation, then ``[[A]]``, ``[[B]]`` or ``[[C]]``."""
    n = explanation_budget(max_tokens)
    return (
        'root ::= explanation "\\n[[" verdict "]]"\n'
        f"explanation ::= [^\\[\\]]{{0,{n}}}\n"
        'verdict ::= "A" | "B" | "C"\n'
    )


def _gbnf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
