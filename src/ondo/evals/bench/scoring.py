"""Per-item scores and their aggregation, as lm-eval v0.4 computes them.

Per item (``ConfigurableTask.process_results``, multiple choice): ``pred = argmax(lls)``;
acc = pred == gold; acc_norm uses ``lls / len(choice)`` (characters of the choice, without the target
delimiter); acc_bytes uses ``lls / len(choice.encode("utf-8"))``; mc2 (``truthfulqa/utils.py``) is
``sum(softmax-free exp(lls) / sum(exp(lls)))`` over the true answers. Ties go to the first maximum
(``np.argmax``).

Aggregation: mean, with ``mean_stderr = sample_stddev / sqrt(n)`` (n - 1 in the variance). A group
(MMLU) reports the size-weighted mean with lm-eval's ``pooled_sample_stderr`` and the unweighted
(macro) mean with ``unweighted_mean_stderr``.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ondo.evals.bench.task import Doc, Task


@dataclass(frozen=True)
class ItemScore:
    prediction: int | str
    gold: int | str
    scores: dict[str, float]


def score_multiple_choice(task: Task, doc: Doc, lls: Sequence[float], is_greedy: Sequence[bool]) -> ItemScore:
    choices = task.choices(doc)
    arr = np.asarray(lls, dtype=np.float64)
    gold = task.gold_index(doc)
    pred = int(np.argmax(arr))
    out: dict[str, float] = {}
    if "mc2" in task.metrics:
        labels = np.asarray(doc["mc2_targets"]["labels"])
        probs = np.exp(arr)
        probs_norm = probs / np.sum(probs)
        pm_true = float(np.sum(probs_norm[labels == 1]))
        out["mc2"] = pm_true
        out["acc"] = pm_true  # lm-eval names truthfulqa_mc2's score "acc"
        return ItemScore(pred, gold, out)
    acc = 1.0 if pred == gold else 0.0
    for metric in task.metrics:
        if metric in ("acc", "mc1"):
            out[metric] = acc
        elif metric == "acc_norm":
            lengths = np.asarray([float(len(c)) for c in choices])
            out["acc_norm"] = 1.0 if int(np.argmax(arr / lengths)) == gold else 0.0
        elif metric == "acc_bytes":
            blen = np.asarray([float(len(c.encode("utf-8"))) for c in choices])
            out["acc_bytes"] = 1.0 if int(np.argmax(arr / blen)) == gold else 0.0
        elif metric == "exact_match":
            out["exact_match"] = float(is_greedy[gold]) if gold != -100 else 0.0
    return ItemScore(pred, gold, out)


def normalize_answer(text: str) -> str:
    """lm-eval ``exact_match`` with ignore_case, ignore_punctuation and ``regexes_to_ignore: [" "]``."""
    text = re.sub(" ", "", text)
    text = text.lower()
    return text.translate(str.maketrans("", "", string.punctuation))


def score_generation(task: Task, doc: Doc, output: str) -> ItemScore:
    gold = str(task.target(doc))
    em = 1.0 if normalize_answer(output) == normalize_answer(gold) else 0.0
    return ItemScore(output, gold, {"exact_match": em})


def mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")


def mean_stderr(values: Sequence[float]) -> float:
    """lm-eval ``mean_stderr``: sample standard deviation over sqrt(n)."""
    n = len(values)
    if n < 2:
        return float("nan")
    mu = sum(values) / n
    var = sum((x - mu) ** 2 for x in values) / (n - 1)
    return math.sqrt(var) / math.sqrt(n)


def aggregate(items: Sequence[Mapping[str, float]], metrics: Sequence[str]) -> dict[str, float]:
    """Task-level metrics and ``<metric>_stderr`` from per-item scores."""
    out: dict[str, float] = {}
    for m in metrics:
        vals = [float(it[m]) for it in items if m in it]
        out[m] = mean(vals)
        out[f"{m}_stderr"] = mean_stderr(vals)
    return out


def pooled_sample_stderr(stderrs: Sequence[float], sizes: Sequence[int]) -> float:
    """lm-eval ``pooled_sample_stderr`` (size-weighted group mean)."""
    denom = sum(sizes) - len(sizes)
    if denom <= 0:
        return float("nan")
    pooled = sum((n - 1) * se**2 * n for n, se in zip(sizes, stderrs, strict=True)) / denom
    return math.sqrt(pooled / sum(sizes))


def unweighted_mean_stderr(stderrs: Sequence[float]) -> float:
    """lm-eval ``unweighted_mean_stderr`` (macro group mean)."""
    return math.sqrt(sum(se**2 for se in stderrs)) / len(stderrs) if stderrs else float("nan")


def aggregate_group(subtasks: Mapping[str, Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, float]:
    """Group metrics from subtask results ``{name: {"n": int, "metrics": {...}}}``.

    ``<m>`` / ``<m>_stderr``: size-weighted (micro) mean, lm-eval's group number;
    ``<m>_macro`` / ``<m>_macro_stderr``: unweighted mean over subtasks.
    """
    out: dict[str, float] = {}
    present = [s for s in subtasks.values() if s["n"] > 0]
    for m in metrics:
        rows = [(s["n"], s["metrics"][m], s["metrics"].get(f"{m}_stderr", float("nan"))) for s in present]
        if not rows:
            continue
        sizes = [r[0] for r in rows]
        out[m] = sum(n * v for n, v, _ in rows) / sum(sizes)
        out[f"{m}_stderr"] = pooled_sample_stderr([r[2] for r in rows], sizes)
        out[f"{m}_macro"] = sum(v for _, v, _ in rows) / len(rows)
        out[f"{m}_macro_stderr"] = unweighted_mean_stderr([r[2] for r in rows])
    return out
