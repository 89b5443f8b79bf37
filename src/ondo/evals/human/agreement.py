"""How much judges agree: Cohen's kappa (two raters), Fleiss' kappa (several), and the MT-Bench paper's
agreement rate between a model judge and people, with and without ties.

The agreement rate follows FastChat's ``compute_agreement.py``: for a judge against humans, every
(judge vote, human vote) pair on an item counts once; for humans among themselves, every pair of
human votes on an item; "without ties" drops a pair in which either vote is a tie (both-bad counts
as a tie, as ``convertvote`` does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

TIE = "tie"


def normalize(vote: str) -> str:
    """'tie (bothbad)' and other tie spellings -> 'tie' (FastChat's convertvote)."""
    return TIE if "tie" in vote else vote


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two raters' labels on the same items: (p_o - p_e) / (1 - p_e)."""
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    n = len(a)
    if n == 0:
        return float("nan")
    labels = sorted(set(a) | set(b), key=str)
    idx = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b, strict=True):
        m[idx[x], idx[y]] += 1
    po = np.trace(m) / n
    pe = float((m.sum(axis=1) / n) @ (m.sum(axis=0) / n))
    if pe == 1.0:  # one label only: chance agreement is total and kappa undefined (as in scikit-learn)
        return float("nan")
    return float((po - pe) / (1 - pe))


def fleiss_kappa(ratings: Sequence[Sequence[Any]]) -> float:
    """Fleiss' kappa: ``ratings[i]`` holds the labels the raters gave item i (the same number per item)."""
    if not ratings:
        return float("nan")
    n_raters = len(ratings[0])
    if n_raters < 2 or any(len(r) != n_raters for r in ratings):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings for every item")
    labels = sorted({x for r in ratings for x in r}, key=str)
    idx = {lab: i for i, lab in enumerate(labels)}
    counts = np.zeros((len(ratings), len(labels)))
    for i, r in enumerate(ratings):
        for x in r:
            counts[i, idx[x]] += 1
    n_items = len(ratings)
    p_j = counts.sum(axis=0) / (n_items * n_raters)
    p_i = ((counts * counts).sum(axis=1) - n_raters) / (n_raters * (n_raters - 1))
    p_bar, pe = p_i.mean(), float((p_j * p_j).sum())
    if pe == 1.0:  # undefined, as in statsmodels
        return float("nan")
    return float((p_bar - pe) / (1 - pe))


@dataclass(frozen=True)
class Rate:
    agree: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.agree / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        return {"agree": self.agree, "total": self.total, "ratio": self.ratio}


def _equal(v1: str, v2: str) -> bool:
    return normalize(v1) == normalize(v2)


def judge_human_agreement(items: Sequence[Mapping[str, str]], judge: str, humans: Sequence[str],
                          with_ties: bool = True) -> Rate:
    """Each item maps annotator -> vote; the judge's vote is compared with every human vote on the item."""
    agree = total = 0
    for votes in items:
        if judge not in votes:
            continue
        jv = votes[judge]
        if not with_ties and normalize(jv) == TIE:
            continue
        for h in humans:
            if h not in votes:
                continue
            if not with_ties and normalize(votes[h]) == TIE:
                continue
            total += 1
            agree += _equal(jv, votes[h])
    return Rate(agree, total)


def human_human_agreement(items: Sequence[Mapping[str, str]], humans: Sequence[str], with_ties: bool = True) -> Rate:
    agree = total = 0
    for votes in items:
        present = [votes[h] for h in humans if h in votes]
        for v1, v2 in combinations(present, 2):
            if not with_ties and (normalize(v1) == TIE or normalize(v2) == TIE):
                continue
            total += 1
            agree += _equal(v1, v2)
    return Rate(agree, total)


def agreement_report(items: Sequence[Mapping[str, str]], judge: str | None = None) -> dict[str, Any]:
    """Every statistic for one set of items (annotator -> vote per item). ``judge`` names the model
    judge's annotator; every other annotator counts as a person."""
    annotators = sorted({a for votes in items for a in votes})
    humans = [a for a in annotators if a != judge]
    cohen: dict[str, float] = {}
    for h1, h2 in combinations(humans, 2):
        both = [v for v in items if h1 in v and h2 in v]
        if both:
            cohen[f"{h1}|{h2}"] = cohen_kappa([normalize(v[h1]) for v in both], [normalize(v[h2]) for v in both])
    full = ([[normalize(v[h]) for h in humans] for v in items if all(h in v for h in humans)]
            if len(humans) >= 2 else [])
    report: dict[str, Any] = {
        "items": len(items),
        "annotators": humans,
        "votes": sum(len(v) for v in items),
        "label_counts": dict(Counter(normalize(x) for v in items for a, x in v.items() if a != judge)),
        "cohen_kappa": cohen,
        "mean_cohen_kappa": float(np.mean(list(cohen.values()))) if cohen else None,
        "fleiss_kappa": fleiss_kappa(full) if len(humans) >= 2 and full else None,
        "fleiss_items": len(full),
        "human_human": {"with_ties": human_human_agreement(items, humans, True).to_dict(),
                        "without_ties": human_human_agreement(items, humans, False).to_dict()},
    }
    if judge is not None:
        report["judge"] = judge
        report["judge_human"] = {"with_ties": judge_human_agreement(items, judge, humans, True).to_dict(),
                                 "without_ties": judge_human_agreement(items, judge, humans, False).to_dict()}
        report["judge_cohen_kappa"] = {
            h: cohen_kappa([normalize(v[judge]) for v in items if judge in v and h in v],
                           [normalize(v[h]) for v in items if judge in v and h in v])
            for h in humans if any(judge in v and h in v for v in items)
        }
    return report
