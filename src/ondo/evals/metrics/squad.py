"""Exact match and F1 for extractive QA: SQuAD v1.1 and KorQuAD 1.0 rules.

``variant="squad"`` is the official SQuAD v1.1 script: lowercase, drop ASCII punctuation and
the articles a/an/the, collapse whitespace; F1 over whitespace tokens.
``variant="korquad"`` is the KorQuAD 1.0 script: quotes and brackets (including 《》〈〉‘’)
become spaces, lowercase, drop ASCII punctuation, collapse whitespace; F1 over the
*characters* of the tokens, because Korean words carry particles (``서울은`` vs ``서울``)
that make whole-word F1 meaningless. With several gold answers the best one counts.
Both scripts report 0-100 averages; so do we.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

from ondo.errors import InvalidInput, OndoError
from ondo.evals.metrics.references import as_reference_lists
from ondo.evals.metrics.results import SquadResult

_PUNCT = set(string.punctuation)
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_KORQUAD_SYMBOLS_RE = re.compile("['\"《》<>〈〉()‘’]")
VARIANTS = ("squad", "korquad")


def normalize_answer(text: str, variant: str = "squad") -> str:
    """The answer normalization of the official evaluation script of ``variant``."""
    if variant == "squad":
        text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
        text = _ARTICLES_RE.sub(" ", text)
        return " ".join(text.split())
    if variant == "korquad":
        text = _KORQUAD_SYMBOLS_RE.sub(" ", text)
        text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
        return " ".join(text.split())
    raise OndoError(f"unknown QA variant '{variant}'; choose one of: {', '.join(VARIANTS)}")


def _units(text: str, variant: str) -> list[str]:
    tokens = normalize_answer(text, variant).split()
    if variant == "korquad":
        return [ch for tok in tokens for ch in tok]
    return tokens


def _f1(prediction: str, truth: str, variant: str) -> float:
    pred = _units(prediction, variant)
    gold = _units(truth, variant)
    common = Counter(pred) & Counter(gold)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(pred)
    recall = 1.0 * num_same / len(gold)
    return (2 * precision * recall) / (precision + recall)


def exact_match(prediction: str, answers: str | Sequence[str], variant: str = "squad") -> float:
    """1.0 when the normalized prediction equals a normalized gold answer, else 0.0."""
    golds = [answers] if isinstance(answers, str) else list(answers)
    norm = normalize_answer(prediction, variant)
    return float(any(norm == normalize_answer(g, variant) for g in golds))


def token_f1(prediction: str, answers: str | Sequence[str], variant: str = "squad") -> float:
    """Best F1 (0-1) of the prediction against the gold answers (tokens; characters for KorQuAD)."""
    golds = [answers] if isinstance(answers, str) else list(answers)
    return max(_f1(prediction, g, variant) for g in golds)


def squad(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]], *, variant: str = "squad"
) -> SquadResult:
    """Exact match and F1 (0-100) over a dataset, with per-item values (0-1)."""
    if variant not in VARIANTS:
        raise OndoError(f"unknown QA variant '{variant}'; choose one of: {', '.join(VARIANTS)}")
    preds = list(predictions)
    for i, p in enumerate(preds):
        if not isinstance(p, str):
            raise InvalidInput(f"prediction #{i + 1} is {type(p).__name__}, expected a string", field="prediction")
    golds = as_reference_lists(references, len(preds), metric="squad")
    items = [{"exact_match": exact_match(p, g, variant), "f1": token_f1(p, g, variant)}
             for p, g in zip(preds, golds, strict=True)]
    n = len(items)
    em = 100.0 * sum(it["exact_match"] for it in items) / n if n else 0.0
    f1 = 100.0 * sum(it["f1"] for it in items) / n if n else 0.0
    return SquadResult(exact_match=em, f1=f1, items=items, variant=variant)


def korquad(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> SquadResult:
    """:func:`squad` with KorQuAD 1.0 rules (character-level F1)."""
    return squad(predictions, references, variant="korquad")
