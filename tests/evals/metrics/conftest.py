"""Real text for the metric parity tests: MT-Bench answers (English) and KorQuAD (Korean)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest


def mt_bench_chunks(text: str) -> list[str]:
    """Split an answer into 1-line chunks, every third chunk two lines (so ROUGE-Lsum sees newlines)."""
    lines = [line for line in text.split("\n") if line.strip()]
    out, i, k = [], 0, 0
    while i < len(lines):
        size = 2 if k % 3 == 2 else 1
        out.append("\n".join(lines[i : i + size]))
        i += size
        k += 1
    return out


def load_mt_bench_answers(shared: Path) -> dict[tuple[str, int], list[str]]:
    answers: dict[tuple[str, int], list[str]] = {}
    for path in sorted((shared / "mt_bench" / "model_answer").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            answers[(path.stem, row["question_id"])] = row["choices"][0]["turns"]
    return answers


def mt_bench_pairs(shared: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(prediction, reference) pairs: chunk k of one model's answer vs chunk k of another's, same turn."""
    answers = load_mt_bench_answers(shared)
    models = sorted({m for m, _ in answers})
    qids = sorted({q for _, q in answers})
    pairs: list[tuple[str, str]] = []
    for a, b in itertools.combinations(models, 2):
        for q in qids:
            for turn in range(2):
                ta, tb = answers[(a, q)], answers[(b, q)]
                if turn < len(ta) and turn < len(tb):
                    pairs.extend(zip(mt_bench_chunks(ta[turn]), mt_bench_chunks(tb[turn]), strict=False))
                    if limit is not None and len(pairs) >= limit:
                        return pairs[:limit]
    return pairs


@pytest.fixture(scope="session")
def english_pairs(shared_data: Path) -> list[tuple[str, str]]:
    # a spread over the whole file, not only the first model pair
    pairs = mt_bench_pairs(shared_data)
    return pairs[:: max(1, len(pairs) // 400)][:400]


@pytest.fixture(scope="session")
def mt_bench_full_answers(shared_data: Path) -> list[tuple[str, str]]:
    """Whole multi-paragraph answers of two models to the same questions (long, many lines)."""
    answers = load_mt_bench_answers(shared_data)
    return [(answers[("gpt-4", q)][0], answers[("claude-v1", q)][0]) for q in range(81, 101)]


@pytest.fixture(scope="session")
def korquad_rows(shared_data: Path) -> list[dict]:
    path = shared_data / "korean" / "horangi_mini" / "squad_kor_v1_mini.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
