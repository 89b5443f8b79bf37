"""Turning verdicts into MT-Bench numbers, as FastChat's show_result.py does.

Single grading: mean score per model over parsed verdicts, for turn 1, turn 2, overall and per
category. Pairwise: each pair's two games (positions swapped) make one outcome; a game that cannot be
parsed drops the pair (FastChat's "error") and is counted; a tie in game 1 or a verdict that changes
with the order is a tie. Win rate = win / (win + loss + tie); adjusted = (win + 0.5 tie) / total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from ondo.evals.judge.engine import Verdict


@dataclass
class SingleScores:
    model: str
    score: float | None
    turn1: float | None
    turn2: float | None
    categories: dict[str, float]
    judged: int
    unparsed: int

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "score": self.score, "turn1": self.turn1, "turn2": self.turn2,
                "categories": self.categories, "judged": self.judged, "unparsed": self.unparsed}


def _mean(xs: list[float]) -> float | None:
    return fmean(xs) if xs else None


def single_scores(verdicts: Iterable[Verdict]) -> dict[str, SingleScores]:
    by_model: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if v.mode == "single":
            by_model[v.model].append(v)
    out = {}
    for model, vs in by_model.items():
        ok = [v for v in vs if v.score is not None]
        cats: dict[str, list[float]] = defaultdict(list)
        for v in ok:
            cats[v.category].append(float(v.score))  # type: ignore[arg-type]
        out[model] = SingleScores(
            model=model,
            score=_mean([float(v.score) for v in ok]),  # type: ignore[arg-type]
            turn1=_mean([float(v.score) for v in ok if v.turn == 1]),  # type: ignore[arg-type]
            turn2=_mean([float(v.score) for v in ok if v.turn == 2]),  # type: ignore[arg-type]
            categories={c: fmean(s) for c, s in sorted(cats.items())},
            judged=len(vs),
            unparsed=len(vs) - len(ok),
        )
    return out


@dataclass(frozen=True)
class PairOutcome:
    question_id: int
    category: str
    turn: int
    model_1: str
    model_2: str
    g1: str | None
    g2: str | None

    @property
    def error(self) -> bool:
        return self.g1 is None or self.g2 is None

    @property
    def outcome(self) -> str | None:
        """'model_1' | 'model_2' | 'tie', or None when a game was unparseable."""
        if self.error:
            return None
        if self.g1 == "tie" or self.g1 != self.g2:
            return "tie"
        return self.g1

    @property
    def consistent(self) -> bool:
        return not self.error and self.g1 == self.g2


def pair_outcomes(verdicts: Iterable[Verdict]) -> list[PairOutcome]:
    games: dict[tuple[int, int, str, str], dict[int, Verdict]] = defaultdict(dict)
    for v in verdicts:
        if v.mode == "pairwise" and v.model_b is not None:
            games[(v.question_id, v.turn, v.model, v.model_b)][v.game] = v
    out = []
    for (qid, turn, m1, m2), g in games.items():
        g1, g2 = g.get(1), g.get(2)
        category = (g1 or g2).category  # type: ignore[union-attr]
        out.append(PairOutcome(qid, category, turn, m1, m2, g1.winner if g1 else None, g2.winner if g2 else None))
    return out


@dataclass
class WinStats:
    win: int = 0
    loss: int = 0
    tie: int = 0

    @property
    def total(self) -> int:
        return self.win + self.loss + self.tie

    def to_dict(self) -> dict[str, Any]:
        t = self.total
        return {
            "win": self.win, "loss": self.loss, "tie": self.tie,
            "win_rate": self.win / t if t else None,
            "loss_rate": self.loss / t if t else None,
            "win_rate_adjusted": (self.win + 0.5 * self.tie) / t if t else None,
        }


@dataclass
class PairwiseScores:
    model: str
    overall: WinStats = field(default_factory=WinStats)
    turns: dict[int, WinStats] = field(default_factory=lambda: defaultdict(WinStats))
    categories: dict[str, WinStats] = field(default_factory=lambda: defaultdict(WinStats))
    unparsed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {"model": self.model, **self.overall.to_dict(), "unparsed": self.unparsed}
        for t in (1, 2):
            d[f"turn{t}"] = self.turns[t].to_dict() if t in self.turns else None
        d["categories"] = {c: s.to_dict() for c, s in sorted(self.categories.items())}
        return d


def pairwise_scores(outcomes: Iterable[PairOutcome], baseline: str | None = None) -> dict[str, PairwiseScores]:
    """Per-model win/loss/tie (the baseline itself is left out, as in show_result.py)."""
    out: dict[str, PairwiseScores] = {}

    def get(m: str) -> PairwiseScores:
        return out.setdefault(m, PairwiseScores(m))

    for o in outcomes:
        if o.error:
            for m in (o.model_1, o.model_2):
                get(m).unparsed += 1
            continue
        res = o.outcome
        for m in (o.model_1, o.model_2):
            s = get(m)
            me = "model_1" if m == o.model_1 else "model_2"
            for bucket in (s.overall, s.turns[o.turn], s.categories[o.category]):
                if res == "tie":
                    bucket.tie += 1
                elif res == me:
                    bucket.win += 1
                else:
                    bucket.loss += 1
    if baseline is not None:
        out.pop(baseline, None)
    return out
