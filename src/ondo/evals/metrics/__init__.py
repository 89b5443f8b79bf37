"""Text metrics that score exactly like their reference implementations.

``from ondo.evals import metrics``::

    metrics.bleu(predictions, references)            # == sacrebleu.corpus_bleu, .score / .signature
    metrics.sentence_bleu(prediction, refs)          # == sacrebleu.sentence_bleu
    metrics.chrf(predictions, references, word_order=2)   # chrF++ == sacrebleu CHRF
    metrics.rouge(predictions, references, use_stemmer=True)  # == rouge-score, .items / .aggregate
    metrics.rouge(ko_preds, ko_refs, tokenizer="ko")  # Korean morphemes (kiwipiepy)
    metrics.squad(predictions, answers)              # exact match / token F1 (variant="korquad")
    metrics.rolling_perplexity(model, texts)         # lm-eval word/byte perplexity, bits per byte
    metrics.strided_perplexity(model, ids, max_length=..., stride=...)  # transformers guide
                                                     # (model: a TokenScorer or load_model("local:smollm2"))

References are one string (or one list of strings) per prediction. Every result records
the tokenizer it used.
"""

from __future__ import annotations

from ondo.evals.metrics.bleu import bleu, compute_bleu, sentence_bleu, sentence_scores
from ondo.evals.metrics.chrf import chrf, sentence_chrf
from ondo.evals.metrics.perplexity import (
    RollingPerplexity,
    RollingScorer,
    StridedPerplexity,
    TokenScorer,
    TransformersScorer,
    rolling_perplexity,
    rolling_perplexity_from_loglikelihoods,
    rolling_windows,
    strided_perplexity,
    token_scorer,
)
from ondo.evals.metrics.results import (
    AggregateScore,
    BleuResult,
    ChrfResult,
    RougeResult,
    RougeScore,
    SquadResult,
)
from ondo.evals.metrics.rouge import DEFAULT_ROUGE_TYPES, rouge
from ondo.evals.metrics.squad import exact_match, korquad, normalize_answer, squad, token_f1
from ondo.evals.metrics.tokenizers import BLEU_TOKENIZERS, ROUGE_TOKENIZERS

__all__ = [
    "BLEU_TOKENIZERS",
    "DEFAULT_ROUGE_TYPES",
    "ROUGE_TOKENIZERS",
    "AggregateScore",
    "BleuResult",
    "ChrfResult",
    "RollingPerplexity",
    "RollingScorer",
    "RougeResult",
    "RougeScore",
    "SquadResult",
    "StridedPerplexity",
    "TokenScorer",
    "TransformersScorer",
    "bleu",
    "chrf",
    "compute_bleu",
    "exact_match",
    "korquad",
    "normalize_answer",
    "rolling_perplexity",
    "rolling_perplexity_from_loglikelihoods",
    "rolling_windows",
    "rouge",
    "sentence_bleu",
    "sentence_chrf",
    "sentence_scores",
    "squad",
    "strided_perplexity",
    "token_f1",
    "token_scorer",
]
