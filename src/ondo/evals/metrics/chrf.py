"""chrF and chrF++ (Popović 2015, 2017), equal to sacrebleu's ``CHRF``.

Character n-grams of orders 1..``char_order`` (whitespace removed unless
``whitespace=True``) and, for chrF++ (``word_order=2``), word uni- and bigrams after
sacrebleu's punctuation split. Per segment the reference with the best F-score is kept;
the corpus score is F-beta over summed statistics, with sacrebleu's effective-order
averaging (or chrF++.py's epsilon smoothing when ``eps_smoothing=True``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ondo.errors import InvalidInput
from ondo.evals.metrics.references import as_reference_lists
from ondo.evals.metrics.results import ChrfResult

CHAR_ORDER = 6
WORD_ORDER = 0
BETA = 2
_PUNCTS = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _remove_punctuation(sent: str) -> list[str]:
    tokenized: list[str] = []
    for w in sent.split():
        if len(w) == 1:
            tokenized.append(w)
        elif w[-1] in _PUNCTS:
            tokenized += [w[:-1], w[-1]]
        elif w[0] in _PUNCTS:
            tokenized += [w[0], w[1:]]
        else:
            tokenized.append(w)
    return tokenized


def _ngrams(sent: str, char_order: int, word_order: int, whitespace: bool) -> list[Counter[str]]:
    line = sent if whitespace else "".join(sent.split())
    out: list[Counter[str]] = [Counter([line[i : i + n] for i in range(len(line) - n + 1)])
                               for n in range(1, char_order + 1)]
    if word_order > 0:
        words = _remove_punctuation(sent)
        for n in range(1, word_order + 1):
            out.append(Counter([" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]))
    return out


def _match_stats(hyp: Counter[str], ref: Counter[str]) -> list[int]:
    match, hyp_count = 0, 0
    get = ref.get
    for gram, count in hyp.items():
        hyp_count += count
        other = get(gram)
        if other:
            match += count if count < other else other
    return [hyp_count if ref else 0, sum(ref.values()), match]


def _f_score(stats: Sequence[int], order: int, beta: int, eps_smoothing: bool) -> float:
    eps = 1e-16
    score = 0.0
    effective_order = 0
    factor = beta**2
    avg_prec, avg_rec = 0.0, 0.0
    for i in range(order):
        n_hyp, n_ref, n_match = stats[3 * i : 3 * i + 3]
        prec = n_match / n_hyp if n_hyp > 0 else eps
        rec = n_match / n_ref if n_ref > 0 else eps
        denom = factor * prec + rec
        score += ((1 + factor) * prec * rec / denom) if denom > 0 else eps
        if n_hyp > 0 and n_ref > 0:
            avg_prec += prec
            avg_rec += rec
            effective_order += 1
    if eps_smoothing:
        return 100 * score / order
    if effective_order == 0:
        avg_prec = avg_rec = 0.0
    else:
        avg_prec /= effective_order
        avg_rec /= effective_order
    if avg_prec + avg_rec:
        score = (1 + factor) * avg_prec * avg_rec
        score /= (factor * avg_prec) + avg_rec
        return 100 * score
    return 0.0


def _signature(nrefs: int | str, lowercase: bool, eps_smoothing: bool, char_order: int, word_order: int,
               whitespace: bool) -> str:
    from ondo import __version__

    return (
        f"nrefs:{nrefs}|case:{'lc' if lowercase else 'mixed'}|eff:{'no' if eps_smoothing else 'yes'}"
        f"|nc:{char_order}|nw:{word_order}|space:{'yes' if whitespace else 'no'}|version:{__version__}"
    )


def chrf(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    char_order: int = CHAR_ORDER,
    word_order: int = WORD_ORDER,
    beta: int = BETA,
    lowercase: bool = False,
    whitespace: bool = False,
    eps_smoothing: bool = False,
) -> ChrfResult:
    """Corpus chrF (``word_order=0``) or chrF++ (``word_order=2``), equal to sacrebleu's ``CHRF``."""
    if isinstance(predictions, str):
        raise InvalidInput("predictions must be a list of strings, not one string", field="predictions")
    hyps = list(predictions)
    if not hyps:
        raise InvalidInput("no predictions to score", field="predictions")
    for i, h in enumerate(hyps):
        if not isinstance(h, str):
            raise InvalidInput(f"prediction #{i + 1} is {type(h).__name__}, expected a string", field="prediction")
    refs = as_reference_lists(references, len(hyps), metric="chrf")
    order = char_order + word_order
    cache: dict[str, list[Counter[str]]] = {}

    def grams(text: str) -> list[Counter[str]]:
        got = cache.get(text)
        if got is None:
            got = cache[text] = _ngrams(text.lower() if lowercase else text, char_order, word_order, whitespace)
        return got

    summed = [0] * (3 * order)
    for hyp, item_refs in zip(hyps, refs, strict=True):
        hyp_grams = grams(hyp)
        best_stats: list[int] = []
        best_f = -1.0
        for ref in item_refs:
            stats: list[int] = []
            for h_grams, r_grams in zip(hyp_grams, grams(ref), strict=True):
                stats.extend(_match_stats(h_grams, r_grams))
            f = _f_score(stats, order, beta, eps_smoothing)
            if f > best_f:
                best_f, best_stats = f, stats
        for k, v in enumerate(best_stats):
            summed[k] += v
    nref_set = {len(r) for r in refs}
    nrefs: int | str = nref_set.pop() if len(nref_set) == 1 else "var"
    return ChrfResult(
        score=_f_score(summed, order, beta, eps_smoothing),
        char_order=char_order,
        word_order=word_order,
        beta=beta,
        signature=_signature(nrefs, lowercase, eps_smoothing, char_order, word_order, whitespace),
        name=f"chrF{beta}" + "+" * word_order,
    )


def sentence_chrf(
    prediction: str,
    references: str | Sequence[str],
    *,
    char_order: int = CHAR_ORDER,
    word_order: int = WORD_ORDER,
    beta: int = BETA,
    lowercase: bool = False,
    whitespace: bool = False,
    eps_smoothing: bool = False,
) -> ChrfResult:
    """chrF of one sentence, equal to ``sacrebleu.sentence_chrf``."""
    refs = [references] if isinstance(references, str) else list(references)
    return chrf([prediction], [refs], char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase,
                whitespace=whitespace, eps_smoothing=eps_smoothing)
