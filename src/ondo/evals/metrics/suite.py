"""Several text metrics over one set of predictions, optionally recorded as a run.

This is what ``ondo eval metrics`` calls: pick metrics by name, resolve the tokenizer from
``lang``/``tokenize`` per metric, compute, and flatten the headline numbers into
``<task>.<metric>`` run metrics (``text.bleu``, ``text.rougeL`` ...) that the registry's
promotion gates can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ondo.errors import OndoError
from ondo.evals.metrics.bleu import bleu
from ondo.evals.metrics.chrf import chrf
from ondo.evals.metrics.rouge import rouge
from ondo.evals.metrics.squad import squad
from ondo.evals.metrics.tokenizers import BLEU_TOKENIZERS, ROUGE_TOKENIZERS

METRIC_NAMES = ("bleu", "chrf", "chrf++", "rouge", "squad", "exact_match", "f1")
_ALIASES = {"chrfpp": "chrf++", "chrf_pp": "chrf++", "em": "exact_match", "token_f1": "f1", "sacrebleu": "bleu",
            "rouge-score": "rouge"}
_BLEU_TOKENIZE_NAMES = {*BLEU_TOKENIZERS, "ko", "kiwi", "v13a"}
_ROUGE_TOKENIZE_NAMES = {*ROUGE_TOKENIZERS, "ko-kiwi", "kiwi", "rouge", "ascii"}


@dataclass
class MetricsReport:
    """Results of one ``compute`` call: headline ``scores`` plus each metric's full result."""

    n: int
    lang: str | None
    scores: dict[str, float]
    results: dict[str, Any]
    tokenizers: dict[str, str]
    run_id: str | None = None
    task: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, include_items: bool = False) -> dict[str, Any]:
        details: dict[str, Any] = {}
        for name, res in self.results.items():
            if name == "rouge" or name == "squad":
                details[name] = res.to_dict(include_items=include_items)
            else:
                details[name] = res.to_dict()
        return {"n": self.n, "lang": self.lang, "task": self.task, "scores": self.scores,
                "tokenizers": self.tokenizers, "metrics": details, "run_id": self.run_id}


def metric_name(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in METRIC_NAMES:
        from ondo.errors import NotFound

        raise NotFound("metric", name, METRIC_NAMES)
    return key


def compute(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    metrics: Sequence[str] = ("bleu", "rouge"),
    *,
    lang: str | None = None,
    tokenize: str | None = None,
    use_stemmer: bool = False,
    lowercase: bool = False,
) -> MetricsReport:
    """Compute the named metrics. ``tokenize`` applies to each chosen metric that has a tokenizer of that name."""
    names = list(dict.fromkeys(metric_name(m) for m in metrics))
    if not names:
        raise OndoError("no metric chosen")
    if tokenize is not None:
        users = [m for m in names if (m == "bleu" and tokenize in _BLEU_TOKENIZE_NAMES)
                 or (m == "rouge" and tokenize in _ROUGE_TOKENIZE_NAMES)]
        if not users:
            raise OndoError(
                f"tokenizer '{tokenize}' fits none of the chosen metrics; BLEU takes "
                f"{', '.join(BLEU_TOKENIZERS)}; ROUGE takes {', '.join(ROUGE_TOKENIZERS)}"
            )
    variant = "korquad" if (lang or "").lower() == "ko" else "squad"
    scores: dict[str, float] = {}
    results: dict[str, Any] = {}
    tokenizers: dict[str, str] = {}
    for name in names:
        if name == "bleu":
            tok = tokenize if tokenize in _BLEU_TOKENIZE_NAMES else None
            b = bleu(predictions, references, tokenize=tok, lang=lang, lowercase=lowercase)
            results[name], scores["bleu"], tokenizers["bleu"] = b, b.score, b.tokenizer
        elif name in ("chrf", "chrf++"):
            c = chrf(predictions, references, word_order=2 if name == "chrf++" else 0, lowercase=lowercase)
            results[name], scores[name] = c, c.score
        elif name == "rouge":
            tok = tokenize if tokenize in _ROUGE_TOKENIZE_NAMES else None
            r = rouge(predictions, references, use_stemmer=use_stemmer, tokenizer=tok, lang=lang)
            results[name], tokenizers["rouge"] = r, r.tokenizer
            for t, agg in r.aggregate.items():
                scores[t] = agg.mid.fmeasure
        else:  # squad, exact_match, f1
            if "squad" not in results:
                results["squad"] = squad(predictions, references, variant=variant)
            sq = results["squad"]
            if name in ("squad", "exact_match"):
                scores["exact_match"] = sq.exact_match
            if name in ("squad", "f1"):
                scores["f1"] = sq.f1
            tokenizers["squad"] = variant
    return MetricsReport(n=len(predictions), lang=lang, scores=scores, results=results, tokenizers=tokenizers)


def record(report: MetricsReport, *, experiment: str, task: str = "text", run_name: str | None = None,
           params: dict[str, Any] | None = None) -> str:
    """Log the report as a run: metrics ``<task>.<name>``, tokenizers as params, details as an artifact."""
    import ondo

    report.task = task
    run_params = {"task": task, "n": report.n, "lang": report.lang or "",
                  **{f"tokenizer.{k}": v for k, v in report.tokenizers.items()}, **(params or {})}
    with ondo.start_run(experiment=experiment, name=run_name, params=run_params) as run:
        run.log_metrics({f"{task}.{k}": v for k, v in report.scores.items()})
        if "bleu" in report.results:
            run.set_tag("bleu.signature", report.results["bleu"].signature)
        run.log_dict(report.to_dict(include_items=True), "text_metrics.json")
        report.run_id = run.id
    return str(report.run_id)
