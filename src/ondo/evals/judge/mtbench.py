"""MT-Bench and KoMT-Bench as FastChat's llm_judge defines them: questions, references, judge prompts.

The constants (per-category temperatures, the categories graded against a reference, the answer
length) are FastChat's ``common.py`` values, so a score here means what it means there. Data is read
from local files (``shared/data/mt_bench`` and ``shared/data/korean/ko_mt_bench``); the published
answer sets of 8 models can stand in for a model, so a judge can be checked without generating.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput, NotFound

# fastchat/llm_judge/common.py
NEED_REF_CATS = ("math", "reasoning", "coding")
TEMPERATURE_CONFIG: dict[str, float] = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
}
DEFAULT_TEMPERATURE = 0.7  # FastChat's gen_model_answer default for categories not in the table
MAX_NEW_TOKENS = 1024  # gen_model_answer --max-new-token default
CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")

SUITES = ("en", "ko")


@dataclass(frozen=True)
class Question:
    question_id: int
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] | None = None  # the short gold answers some questions carry

    @property
    def needs_reference(self) -> bool:
        return self.category in NEED_REF_CATS

    @property
    def temperature(self) -> float:
        return TEMPERATURE_CONFIG.get(self.category, DEFAULT_TEMPERATURE)


@dataclass
class Suite:
    """One benchmark's questions, GPT-4 reference answers and judge prompt templates."""

    name: str
    questions: list[Question]
    references: dict[int, tuple[str, ...]]
    judge_prompts: dict[str, dict[str, Any]]
    answers_dir: Path | None = None
    _answers: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict, repr=False)

    def question(self, qid: int) -> Question:
        for q in self.questions:
            if q.question_id == qid:
                return q
        raise NotFound("MT-Bench question", str(qid), [str(q.question_id) for q in self.questions])

    def select(self, question_ids: list[int] | None = None, limit: int | None = None) -> list[Question]:
        """The questions to evaluate: an explicit id list, or the first ``limit`` (FastChat's --first-n)."""
        if question_ids:
            return [self.question(qid) for qid in question_ids]
        qs = list(self.questions)
        return qs[:limit] if limit is not None else qs

    def published_models(self) -> list[str]:
        if self.answers_dir is None or not self.answers_dir.is_dir():
            return []
        return sorted(p.stem for p in self.answers_dir.glob("*.jsonl"))

    def published_answers(self, model: str) -> dict[int, tuple[str, ...]]:
        """Answers a published model gave (FastChat's model_answer/<model>.jsonl), by question id."""
        if model not in self._answers:
            if model not in self.published_models():
                raise NotFound("published MT-Bench answer set", model, self.published_models())
            assert self.answers_dir is not None
            self._answers[model] = _read_answers(self.answers_dir / f"{model}.jsonl")
        return self._answers[model]


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the shared benchmark data lives: an explicit folder, ``$ONDO_SHARED_DATA``, or a ``shared/data``
    folder beside the working directory or the source tree."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("ONDO_SHARED_DATA")
    if env:
        return Path(env)
    starts = [Path.cwd(), Path(__file__).resolve()]
    for start in starts:
        for parent in [start, *start.parents]:
            for cand in (parent / "shared" / "data", parent / "data"):
                if (cand / "mt_bench" / "question.jsonl").is_file():
                    return cand
    raise InvalidInput("MT-Bench data not found; set ONDO_SHARED_DATA to the folder holding mt_bench/")


def load_suite(name: str = "en", data_dir: str | os.PathLike[str] | None = None) -> Suite:
    """Load MT-Bench (``en``) or KoMT-Bench (``ko``)."""
    root = data_root(data_dir)
    if name in ("en", "mt_bench", "mt-bench"):
        base = root / "mt_bench"
        return Suite(
            name="en",
            questions=_read_questions(base / "question.jsonl"),
            references=_read_answers(base / "reference_answer_gpt-4.jsonl"),
            judge_prompts=_read_judge_prompts(base / "judge_prompts.jsonl"),
            answers_dir=base / "model_answer",
        )
    if name in ("ko", "ko_mt_bench", "komt-bench"):
        base = root / "korean" / "ko_mt_bench"
        return Suite(
            name="ko",
            questions=_read_questions(base / "question_ko.jsonl"),
            references=_read_answers(base / "reference_answer_ko_gpt-4.jsonl"),
            judge_prompts=_read_judge_prompts(base / "judge_prompts_ko.jsonl"),
            answers_dir=base / "model_answer" if (base / "model_answer").is_dir() else None,
        )
    raise NotFound("MT-Bench suite", name, SUITES)


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise InvalidInput("file not found", file=str(path))
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"invalid JSON: {exc.msg}", file=str(path), line=lineno) from exc
    return rows


def _read_questions(path: Path) -> list[Question]:
    out = []
    for lineno, row in _jsonl(path):
        for key in ("question_id", "category", "turns"):
            if key not in row:
                raise InvalidInput("missing field", file=str(path), line=lineno, field=key)
        ref = row.get("reference")
        out.append(Question(int(row["question_id"]), str(row["category"]), tuple(row["turns"]),
                            tuple(ref) if ref else None))
    return out


def _read_answers(path: Path) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    for lineno, row in _jsonl(path):
        try:
            out[int(row["question_id"])] = tuple(row["choices"][0]["turns"])
        except (KeyError, IndexError, TypeError) as exc:
            raise InvalidInput("expected question_id and choices[0].turns", file=str(path), line=lineno) from exc
    return out


def _read_judge_prompts(path: Path) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for _, row in _jsonl(path)}
