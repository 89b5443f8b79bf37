"""Result types of the text metrics.

A score is only comparable when you know how it was computed, so every result carries
its tokenizer and (for the sacrebleu family) a sacrebleu-layout signature. Results are
plain data with ``to_dict()`` for logging and ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple


@dataclass(frozen=True)
class BleuResult:
    """Corpus (or sentence) BLEU, field for field as sacrebleu's ``BLEUScore``."""

    score: float
    counts: list[float]
    totals: list[float]
    precisions: list[float]
    bp: float
    sys_len: int
    ref_len: int
    signature: str
    tokenizer: str
    name: str = "BLEU"

    @property
    def ratio(self) -> float:
        return self.sys_len / self.ref_len if self.ref_len else 0.0

    def format(self, width: int = 2) -> str:
        """sacrebleu's one-line rendering: ``BLEU|sig = 12.34 45.6/.../... (BP = ...)``."""
        prec = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"{self.name}|{self.signature} = {self.score:.{width}f} {prec} (BP = {self.bp:.3f} "
            f"ratio = {self.ratio:.3f} hyp_len = {self.sys_len:d} ref_len = {self.ref_len:d})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "signature": self.signature,
            "tokenizer": self.tokenizer,
            "counts": list(self.counts),
            "totals": list(self.totals),
            "precisions": list(self.precisions),
            "bp": self.bp,
            "sys_len": self.sys_len,
            "ref_len": self.ref_len,
            "ratio": self.ratio,
        }

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class ChrfResult:
    """chrF / chrF++ as sacrebleu's ``CHRFScore`` (``name`` is ``chrF2`` or ``chrF2++``)."""

    score: float
    char_order: int
    word_order: int
    beta: int
    signature: str
    name: str

    def format(self, width: int = 2) -> str:
        return f"{self.name}|{self.signature} = {self.score:.{width}f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "signature": self.signature,
            "char_order": self.char_order,
            "word_order": self.word_order,
            "beta": self.beta,
        }

    def __str__(self) -> str:
        return self.format()


_SCORE_KEYS = ("precision", "recall", "fmeasure")


class RougeScore(NamedTuple):
    """precision / recall / F1 of one ROUGE type, shaped like rouge-score's ``Score`` tuple.

    Read it as attributes (``score.fmeasure``), by position, or by name
    (``score["fmeasure"]``, ``score["f1"]``).
    """

    precision: float
    recall: float
    fmeasure: float

    @property
    def f1(self) -> float:
        return self.fmeasure

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            if key == "f1":
                return self.fmeasure
            if key in _SCORE_KEYS:
                return getattr(self, key)
            raise KeyError(key)
        return tuple.__getitem__(self, key)

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "fmeasure": self.fmeasure}


class AggregateScore(NamedTuple):
    """Bootstrap confidence interval of the mean (rouge-score's ``AggregateScore``): low / mid / high."""

    low: RougeScore
    mid: RougeScore
    high: RougeScore

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            if key in ("low", "mid", "high"):
                return getattr(self, key)
            raise KeyError(key)
        return tuple.__getitem__(self, key)

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"low": self.low.to_dict(), "mid": self.mid.to_dict(), "high": self.high.to_dict()}


@dataclass
class RougeResult:
    """Per-item ROUGE scores plus the rouge-score-style bootstrap aggregate.

    ``items[i]["rougeL"].fmeasure`` is item i's ROUGE-L F1. ``aggregate["rougeL"].mid.fmeasure``
    is the median of the bootstrap means (what rouge-score reports as the corpus score) with
    ``low``/``high`` the confidence bounds; computed on first access from ``RandomState(seed)``,
    so the same inputs always give the same interval. ``mean()`` is the plain mean.
    """

    items: list[dict[str, RougeScore]]
    rouge_types: list[str]
    tokenizer: str
    use_stemmer: bool
    n_samples: int = 1000
    confidence_interval: float = 0.95
    seed: int = 0
    _aggregator: Callable[[RougeResult], dict[str, AggregateScore]] | None = field(
        default=None, repr=False, compare=False
    )

    @cached_property
    def aggregate(self) -> dict[str, AggregateScore]:
        if self._aggregator is None:
            from ondo.evals.metrics.bootstrap import aggregate_items

            return aggregate_items(self)
        return self._aggregator(self)

    def mean(self, rouge_type: str, measure: str = "fmeasure") -> float:
        """Plain mean of one measure over items (no resampling)."""
        if not self.items:
            return 0.0
        return sum(item[rouge_type][measure] for item in self.items) / len(self.items)

    def summary(self) -> dict[str, float]:
        """``{"rouge1": mean F1, ...}``: the numbers a run logs."""
        return {t: self.mean(t) for t in self.rouge_types}

    def to_dict(self, include_items: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tokenizer": self.tokenizer,
            "use_stemmer": self.use_stemmer,
            "rouge_types": list(self.rouge_types),
            "n": len(self.items),
            "aggregate": {t: a.to_dict() for t, a in self.aggregate.items()},
            "bootstrap": {"n_samples": self.n_samples, "confidence_interval": self.confidence_interval,
                          "seed": self.seed},
        }
        if include_items:
            out["items"] = [{t: s.to_dict() for t, s in item.items()} for item in self.items]
        return out


@dataclass(frozen=True)
class SquadResult:
    """Exact match and token F1 (0-100, as the SQuAD script prints them) with per-item values."""

    exact_match: float
    f1: float
    items: list[dict[str, float]]
    variant: str

    def to_dict(self, include_items: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"exact_match": self.exact_match, "f1": self.f1, "variant": self.variant,
                               "n": len(self.items)}
        if include_items:
            out["items"] = self.items
        return out
