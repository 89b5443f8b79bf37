"""ROUGE-N / ROUGE-L / ROUGE-Lsum, equal to Google's rouge-score, and fast.

Same tokenizer (lowercase, ``[a-z0-9]`` runs, Porter stem on words longer than 3
characters), same formulas, same multi-reference rule (per type, the reference with the
highest F1, first on ties) and the same summary-level union LCS for Lsum (sentences are
the non-empty ``\\n``-separated lines). What differs is the engineering:

* each distinct text is tokenized once, tokens become integer ids through a vocabulary
  that stems a word the first time it is seen (stems are cached across calls);
* ROUGE-N for all pairs at once in numpy (:mod:`.ngrams`); the LCS is bit-parallel (:mod:`.lcs`);
* when both texts have a single line, ROUGE-Lsum equals ROUGE-L (the union LCS of one
  sentence pair is that pair's LCS) and is not recomputed.

Beyond rouge-score: ``tokenizer="unicode"`` (Unicode letters and digits) and
``tokenizer="ko"`` (kiwipiepy morphemes) so non-English scores mean something. The ASCII
tokenizer refuses Korean input instead of scoring it as 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ondo.errors import InvalidInput, OndoError
from ondo.evals.metrics.lcs import lcs_indices, lcs_length, match_masks
from ondo.evals.metrics.ngrams import NgramIndex
from ondo.evals.metrics.references import as_reference_lists
from ondo.evals.metrics.results import RougeResult, RougeScore
from ondo.evals.metrics.stemmer import porter_stem
from ondo.evals.metrics.tokenizers import (
    ROUGE_LANG_DEFAULTS,
    is_valid_rouge_token,
    refuse_dropped_hangul,
    rouge_tokenizer_name,
    rouge_words_many,
)

DEFAULT_ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_ROUGE_N_RE = re.compile(r"rouge([0-9])$")
_NEWLINE = -1
_DROPPED = -2
_ASCII_WORD_RE = re.compile(r"^[a-z0-9]+$")
_ZERO = RougeScore(0.0, 0.0, 0.0)


def _fmeasure(precision: float, recall: float) -> float:
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


class _Vocab(dict[str, int]):
    """raw token -> id of its (stemmed) form; stems each new word once."""

    def __init__(self, tokenizer: str, use_stemmer: bool) -> None:
        super().__init__()
        self["\n"] = _NEWLINE
        self._ids: dict[str, int] = {}
        self._tokenizer = tokenizer
        self._stem = use_stemmer

    def __missing__(self, token: str) -> int:
        form = token
        if self._stem and len(token) > 3 and (self._tokenizer == "default" or _ASCII_WORD_RE.match(token)):
            form = porter_stem(token)
        if self._tokenizer == "default" and not is_valid_rouge_token(form):
            ident = _DROPPED
        else:
            ident = self._ids.setdefault(form, len(self._ids))
        self[token] = ident
        return ident


class _Text:
    """One distinct text: its token ids and, when it has several non-empty lines, its sentences."""

    __slots__ = ("flat", "lines")

    def __init__(self, ids: list[int]) -> None:
        if _NEWLINE in ids or _DROPPED in ids:
            lines: list[list[int]] = [[]]
            for tok in ids:
                if tok == _NEWLINE:
                    lines.append([])
                elif tok != _DROPPED:
                    lines[-1].append(tok)
            self.flat = [tok for tok in ids if tok >= 0]
            kept = [line for line in lines if line]
            self.lines: list[list[int]] | None = kept if len(kept) > 1 else None
        else:
            self.flat = ids
            self.lines = None

    def sentences(self) -> list[list[int]]:
        if self.lines is not None:
            return self.lines
        return [self.flat] if self.flat else []


def _score_lcs(ref: _Text, pred: _Text) -> RougeScore:
    if not ref.flat or not pred.flat:
        return _ZERO
    length = lcs_length(ref.flat, pred.flat)
    precision = length / len(pred.flat)
    recall = length / len(ref.flat)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _summary_level_lcs(ref_sents: list[list[int]], can_sents: list[list[int]]) -> RougeScore:
    """rouge-score's ``_summary_level_lcs`` on id lists, step for step."""
    if not ref_sents or not can_sents:
        return _ZERO
    m = sum(map(len, ref_sents))
    n = sum(map(len, can_sents))
    if not n or not m:
        return _ZERO
    cnt_r: Counter[int] = Counter()
    cnt_c: Counter[int] = Counter()
    for s in ref_sents:
        cnt_r.update(s)
    for s in can_sents:
        cnt_c.update(s)
    hits = 0
    can_masks = [match_masks(c) for c in can_sents]
    can_vocab = [set(mk) for mk in can_masks]
    for r in ref_sents:
        union: set[int] = set()
        for c, masks, vocab in zip(can_sents, can_masks, can_vocab, strict=True):
            if not vocab.isdisjoint(r):
                union.update(lcs_indices(r, c, masks))
        for i in sorted(union):
            t = r[i]
            if cnt_c[t] > 0 and cnt_r[t] > 0:
                hits += 1
                cnt_c[t] -= 1
                cnt_r[t] -= 1
    recall = hits / m
    precision = hits / n
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _check_types(rouge_types: Sequence[str]) -> list[tuple[str, int]]:
    """(type, n) with n = 0 for rougeL and -1 for rougeLsum."""
    out: list[tuple[str, int]] = []
    for t in rouge_types:
        if t == "rougeL":
            out.append((t, 0))
        elif t == "rougeLsum":
            out.append((t, -1))
        else:
            m = _ROUGE_N_RE.match(t)
            if not m or int(m.group(1)) <= 0:
                raise OndoError(f"invalid ROUGE type '{t}'; use rouge1..rouge9, rougeL or rougeLsum")
            out.append((t, int(m.group(1))))
    if not out:
        raise OndoError("no ROUGE type requested")
    return out


def _rouge_n_all(
    texts: list[_Text], pair_pred: list[int], pair_ref: list[int], orders: list[tuple[str, int]]
) -> dict[str, list[RougeScore]]:
    """rouge-score's ``_score_ngrams`` for every pair, vectorised (same float operations, same order)."""
    index = NgramIndex([t.flat for t in texts])
    pred = np.asarray(pair_pred, dtype=np.int64)
    ref = np.asarray(pair_ref, dtype=np.int64)
    out: dict[str, list[RougeScore]] = {}
    for name, n in orders:
        inter = index.overlap(pred, ref, n).astype(np.float64)
        totals = index.totals(n)
        precision = inter / np.maximum(totals[pred], 1)
        recall = inter / np.maximum(totals[ref], 1)
        denom = precision + recall
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
        make = RougeScore._make
        out[name] = [make(row) for row in zip(precision.tolist(), recall.tolist(), f.tolist(), strict=True)]
    return out


def resolve_rouge_tokenizer(tokenizer: str | None, lang: str | None) -> str:
    if tokenizer is None:
        tokenizer = ROUGE_LANG_DEFAULTS.get((lang or "").lower(), "default")
    return rouge_tokenizer_name(tokenizer)


def rouge(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    rouge_types: Sequence[str] = DEFAULT_ROUGE_TYPES,
    use_stemmer: bool = False,
    tokenizer: str | None = None,
    lang: str | None = None,
    tokenize: str | None = None,
    n_samples: int = 1000,
    confidence_interval: float = 0.95,
    seed: int = 0,
) -> RougeResult:
    """Per-item ROUGE of ``predictions`` against ``references`` (one string or a list per item).

    ``tokenizer``: ``"default"`` (rouge-score's ASCII tokenizer; refuses Korean),
    ``"unicode"`` or ``"ko"``; ``lang="ko"`` picks ``"ko"``. With several references per item
    the best-F1 reference is taken per ROUGE type, as rouge-score's ``score_multi``.
    ``result.aggregate`` is rouge-score's BootstrapAggregator (``n_samples``,
    ``confidence_interval``) drawn from ``RandomState(seed)``.
    """
    preds = list(predictions)
    refs = as_reference_lists(references, len(preds), metric="rouge")
    for i, p in enumerate(preds):
        if not isinstance(p, str):
            raise InvalidInput(f"prediction #{i + 1} is {type(p).__name__}, expected a string", field="prediction")
    types = _check_types(rouge_types)
    if tokenize is not None:  # BLEU's spelling, accepted as an alias
        if tokenizer is not None and tokenizer != tokenize:
            raise OndoError(f"tokenizer='{tokenizer}' and tokenize='{tokenize}' disagree; give one")
        tokenizer = tokenize
    tok = resolve_rouge_tokenizer(tokenizer, lang)

    index: dict[str, int] = {}
    for text in preds:
        index.setdefault(text, len(index))
    for item_refs in refs:
        for text in item_refs:
            index.setdefault(text, len(index))
    uniq = list(index)
    if tok == "default":
        refuse_dropped_hangul(preds, tok, "rouge", "prediction")
        refuse_dropped_hangul(("\n".join(r) for r in refs), tok, "rouge", "reference")

    vocab = _Vocab(tok, use_stemmer)
    lookup = vocab.__getitem__
    texts = [_Text(list(map(lookup, words))) for words in rouge_words_many(uniq, tok)]

    # every (item, reference) pair; ROUGE-N for all of them at once
    pair_pred: list[int] = []
    pair_ref: list[int] = []
    for pred_text, item_refs in zip(preds, refs, strict=True):
        pi = index[pred_text]
        for ref_text in item_refs:
            pair_pred.append(pi)
            pair_ref.append(index[ref_text])
    ngram_scores: dict[str, list[RougeScore]] = {}
    if any(n > 0 for _, n in types):
        ngram_scores = _rouge_n_all(texts, pair_pred, pair_ref, [(name, n) for name, n in types if n > 0])

    items: list[dict[str, RougeScore]] = []
    k = 0
    for item_refs in refs:
        best: dict[str, RougeScore] | None = None
        for _ in item_refs:
            pred, ref = texts[pair_pred[k]], texts[pair_ref[k]]
            scores: dict[str, RougeScore] = {}
            lcs_score: RougeScore | None = None
            for name, n in types:
                if n > 0:
                    scores[name] = ngram_scores[name][k]
                elif n == 0 or (ref.lines is None and pred.lines is None):
                    lcs_score = lcs_score or _score_lcs(ref, pred)
                    scores[name] = lcs_score
                else:
                    scores[name] = _summary_level_lcs(ref.sentences(), pred.sentences())
            k += 1
            if best is None:
                best = scores
            else:
                for name, _ in types:
                    if scores[name].fmeasure > best[name].fmeasure:
                        best[name] = scores[name]
        assert best is not None
        items.append(best)
    return RougeResult(
        items=items,
        rouge_types=[name for name, _ in types],
        tokenizer=tok,
        use_stemmer=use_stemmer,
        n_samples=n_samples,
        confidence_interval=confidence_interval,
        seed=seed,
    )
