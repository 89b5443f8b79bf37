"""What a judge is asked: FastChat's matches (single, pairwise-baseline, pairwise-all) and their prompts.

Prompt assembly follows ``fastchat/llm_judge/common.py`` to the character: the template is filled
with ``str.format`` from the question turns, the answers and (for math, reasoning and coding) the
reference answer; the system prompt is the template's own. Turn 2 uses the multi-turn templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ondo.evals.judge.mtbench import Question
from ondo.evals.judge.prompt_set import JudgePrompt, JudgePromptSet


@dataclass(frozen=True)
class SingleMatch:
    question: Question
    model: str
    answer: tuple[str, ...]
    turn: int
    prompt: JudgePrompt
    reference: tuple[str, ...] | None


@dataclass(frozen=True)
class PairMatch:
    question: Question
    model_1: str
    model_2: str
    answer_1: tuple[str, ...]
    answer_2: tuple[str, ...]
    turn: int
    prompt: JudgePrompt
    reference: tuple[str, ...] | None


def _ref_kwargs(reference: tuple[str, ...] | None) -> dict[str, str]:
    if reference is None:
        return {}
    out = {"ref_answer_1": reference[0]}
    if len(reference) > 1:
        out["ref_answer_2"] = reference[1]
    return out


def single_variables(m: SingleMatch) -> dict[str, Any]:
    kwargs: dict[str, Any] = _ref_kwargs(m.reference)
    q = m.question
    if m.turn == 2:
        return {"question_1": q.turns[0], "question_2": q.turns[1], "answer_1": m.answer[0],
                "answer_2": m.answer[1], **kwargs}
    return {"question": q.turns[0], "answer": m.answer[0], **kwargs}


def pair_variables(m: PairMatch, game: int) -> dict[str, Any]:
    """Game 1 shows model_1 as assistant A; game 2 swaps the positions."""
    a, b = (m.answer_1, m.answer_2) if game == 1 else (m.answer_2, m.answer_1)
    kwargs: dict[str, Any] = _ref_kwargs(m.reference)
    q = m.question
    if m.turn == 2:
        return {"question_1": q.turns[0], "question_2": q.turns[1], "answer_a_1": a[0], "answer_b_1": b[0],
                "answer_a_2": a[1], "answer_b_2": b[1], **kwargs}
    return {"question": q.turns[0], "answer_a": a[0], "answer_b": b[0], **kwargs}


def messages(system: str, user_prompt: str) -> list[dict[str, str]]:
    """OpenAI-style messages, as FastChat's conversation template renders them for an API judge."""
    out = []
    if system:
        out.append({"role": "system", "content": system})
    out.append({"role": "user", "content": user_prompt})
    return out


def _turns(q: Question) -> list[int]:
    return [1, 2] if len(q.turns) >= 2 else [1]


def make_single_matches(
    questions: list[Question], models: list[str], answers: dict[str, dict[int, tuple[str, ...]]],
    prompts: JudgePromptSet, references: dict[int, tuple[str, ...]],
) -> list[SingleMatch]:
    out = []
    for q in questions:
        for turn in _turns(q):
            prompt = prompts.for_question(q, turn, "single")
            ref = references.get(q.question_id) if q.needs_reference else None
            for m in models:
                out.append(SingleMatch(q, m, answers[m][q.question_id], turn, prompt, ref))
    return out


def make_pair_matches(
    questions: list[Question], models: list[str], answers: dict[str, dict[int, tuple[str, ...]]],
    prompts: JudgePromptSet, references: dict[int, tuple[str, ...]], baseline: str | None,
) -> list[PairMatch]:
    """Against ``baseline`` (model_1 = each model, model_2 = baseline) or, without one, all pairs."""
    if baseline is not None:
        pairs = [(m, baseline) for m in models if m != baseline]
    else:
        pairs = list(combinations(models, 2))
    out = []
    for q in questions:
        for turn in _turns(q):
            prompt = prompts.for_question(q, turn, "pairwise")
            ref = references.get(q.question_id) if q.needs_reference else None
            for m1, m2 in pairs:
                out.append(PairMatch(q, m1, m2, answers[m1][q.question_id], answers[m2][q.question_id],
                                     turn, prompt, ref))
    return out
