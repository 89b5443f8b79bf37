"""ROUGE against Google's rouge-score, side by side: per item, multi-reference, Lsum, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer, scoring

from ondo.errors import OndoError
from ondo.evals import metrics
from ondo.evals.metrics.lcs import lcs_indices, lcs_length

TOL = 1e-9
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

_WORDS = st.sampled_from(
    ["the", "cat", "cats", "running", "runs", "ran", "generously", "generous", "a", "of", "mat", "sat", "on",
     "42", "x", "Hello,", "WORLD", "it's", "e-mail", "naïve", "café", "\n", "\n\n", "relational", "ponies",
     "caresses", "ties", "sky", "skies", "dying", "lying", "agreed", "feed", "hopping", "filing", "happy"]
)
_TEXT = st.one_of(st.lists(_WORDS, max_size=25).map(" ".join), st.text(max_size=40))


def _assert_items_equal(ours: metrics.RougeResult, theirs: list[dict], types=TYPES) -> None:
    assert len(ours.items) == len(theirs)
    for i, (mine, ref) in enumerate(zip(ours.items, theirs, strict=True)):
        for t in types:
            assert tuple(mine[t]) == pytest.approx(tuple(ref[t]), abs=TOL), (i, t, mine[t], ref[t])


@pytest.mark.parametrize("use_stemmer", [True, False])
def test_rouge_equals_rouge_score_on_mt_bench(english_pairs, use_stemmer):
    preds = [p for p, _ in english_pairs]
    refs = [r for _, r in english_pairs]
    ours = metrics.rouge(preds, refs, use_stemmer=use_stemmer)
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=use_stemmer)
    theirs = [scorer.score(r, p) for p, r in english_pairs]
    _assert_items_equal(ours, theirs)
    assert ours.tokenizer == "default" and ours.use_stemmer is use_stemmer
    # the data exercises what matters: multi-line Lsum differs from L somewhere, scores are not all 0
    assert any(abs(it["rougeLsum"].fmeasure - it["rougeL"].fmeasure) > 1e-6 for it in ours.items)
    assert 0.05 < ours.mean("rouge1") < 0.9


def test_rouge_on_long_multi_paragraph_answers(mt_bench_full_answers):
    preds = [p for p, _ in mt_bench_full_answers]
    refs = [r for _, r in mt_bench_full_answers]
    ours = metrics.rouge(preds, refs, use_stemmer=True)
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    _assert_items_equal(ours, [scorer.score(r, p) for p, r in mt_bench_full_answers])


def test_multiple_references_pick_the_best_per_type_like_score_multi(english_pairs):
    rows = english_pairs[:80]
    preds = [p for p, _ in rows]
    refs = [[r, rows[(i + 7) % len(rows)][1], p[: len(p) // 2]] for i, (p, r) in enumerate(rows)]
    ours = metrics.rouge(preds, refs, use_stemmer=True)
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    _assert_items_equal(ours, [scorer.score_multi(r, p) for p, r in zip(preds, refs, strict=True)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=5), st.booleans())
def test_rouge_equals_rouge_score_on_generated_text(rows, use_stemmer):
    # generated text stays ASCII-only for the default tokenizer (Korean is refused by design)
    rows = [(p.encode("ascii", "ignore").decode(), r.encode("ascii", "ignore").decode()) for p, r in rows]
    ours = metrics.rouge([p for p, _ in rows], [r for _, r in rows], use_stemmer=use_stemmer,
                         rouge_types=["rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum"])
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum"], use_stemmer=use_stemmer)
    _assert_items_equal(ours, [scorer.score(r, p) for p, r in rows], ["rouge1", "rouge2", "rouge3", "rougeL",
                                                                       "rougeLsum"])


def test_bootstrap_aggregate_equals_rouge_score_aggregator_with_the_same_seed(english_pairs):
    rows = english_pairs[:150]
    ours = metrics.rouge([p for p, _ in rows], [r for _, r in rows], use_stemmer=True, seed=1234)
    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    aggregator = scoring.BootstrapAggregator()
    for p, r in rows:
        aggregator.add_scores(scorer.score(r, p))
    state = np.random.get_state()
    try:
        np.random.seed(1234)
        theirs = aggregator.aggregate()
    finally:
        np.random.set_state(state)
    for t in TYPES:
        for bound in ("low", "mid", "high"):
            assert tuple(getattr(ours.aggregate[t], bound)) == pytest.approx(
                tuple(getattr(theirs[t], bound)), abs=TOL), (t, bound)
    # fixed seed: reproducible, and the interval is an interval
    again = metrics.rouge([p for p, _ in rows], [r for _, r in rows], use_stemmer=True, seed=1234)
    assert again.aggregate["rougeL"] == ours.aggregate["rougeL"]
    agg = ours.aggregate["rouge1"]
    assert agg.low.fmeasure < agg.mid.fmeasure < agg.high.fmeasure
    # mid is the median of the bootstrap means: close to, not equal to, the plain mean
    assert agg.mid.fmeasure == pytest.approx(ours.mean("rouge1"), abs=0.01)
    assert agg["mid"]["fmeasure"] == agg.mid.fmeasure


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=30), st.lists(st.integers(0, 4), max_size=30))
def test_bit_parallel_lcs_matches_rouge_score_table_and_backtrack(a, b):
    table = rouge_scorer._lcs_table(a, b)
    assert lcs_length(a, b) == table[-1][-1]
    assert lcs_indices(a, b) == rouge_scorer.lcs_ind(a, b)


def test_korean_with_the_ascii_tokenizer_is_refused_not_scored_zero(korquad_rows):
    answers = [row["answers"]["text"][0] for row in korquad_rows[:5]]
    with pytest.raises(OndoError, match=r"contains Korean.*tokenizer='ko'.*'unicode'"):
        metrics.rouge(answers, answers)
    with pytest.raises(OndoError, match="reference #2 contains Korean"):
        metrics.rouge(["a", "b"], ["a", "서울"])
    # what rouge-score would have done: a silent zero
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    assert scorer.score("서울 특별시", "서울 특별시")["rouge1"].fmeasure == 0.0


def test_korean_tokenizers_give_meaningful_scores(korquad_rows):
    contexts = [row["context"].split(". ")[0] for row in korquad_rows[:20]]
    questions = [row["question"] for row in korquad_rows[:20]]
    ko = metrics.rouge(questions, contexts, tokenizer="ko")
    uni = metrics.rouge(questions, contexts, tokenizer="unicode")
    assert ko.tokenizer == "ko" and uni.tokenizer == "unicode"
    assert metrics.rouge(questions, contexts, lang="ko").tokenizer == "ko"
    # identical texts score 1 with either tokenizer
    same = metrics.rouge(contexts, contexts, tokenizer="ko")
    assert all(it["rougeL"].fmeasure == pytest.approx(1.0) for it in same.items)
    # morphemes match where whole words (with particles attached) do not
    assert ko.mean("rouge1") > uni.mean("rouge1") > 0
    # on ASCII text the unicode tokenizer is rouge-score's tokenizer
    en = ["The cat sat on the mat.", "Dogs are running\nin the park"]
    en_ref = ["A cat was sitting on a mat", "dogs run in parks"]
    assert [it["rougeLsum"] for it in metrics.rouge(en, en_ref, tokenizer="unicode").items] == [
        it["rougeLsum"] for it in metrics.rouge(en, en_ref).items]


def test_result_shape_and_errors():
    res = metrics.rouge(["the cat sat"], ["the cat sat down"], use_stemmer=True)
    item = res.items[0]
    assert set(item) == set(TYPES)
    score = item["rouge1"]
    assert score.precision == score["precision"] == 1.0
    assert score.recall == pytest.approx(0.75) and score["f1"] == score.fmeasure
    assert set(res.aggregate) == set(TYPES)
    d = res.to_dict()
    assert d["tokenizer"] == "default" and d["items"][0]["rouge1"]["precision"] == 1.0
    with pytest.raises(OndoError, match="invalid ROUGE type"):
        metrics.rouge(["a"], ["a"], rouge_types=["rougeX"])
    with pytest.raises(OndoError, match="unknown ROUGE tokenizer"):
        metrics.rouge(["a"], ["a"], tokenizer="klingon")


@pytest.mark.parametrize("tok", ["ko", "unicode"])
def test_korean_rouge_equals_rouge_score_fed_the_same_tokens(korquad_rows, tok):
    """rouge-score's scoring (n-grams, LCS, union LCS) on the same Korean tokens gives the same numbers."""
    from ondo.evals.metrics.tokenizers import rouge_words

    class SameTokens:
        def tokenize(self, text):
            return [t for t in rouge_words(text, tok) if t != "\n"]

    preds = [row["question"] for row in korquad_rows[:25]]
    # multi-line references: the first sentences of the context, one per line
    refs = ["\n".join(row["context"].split(". ")[:3]) for row in korquad_rows[:25]]
    ours = metrics.rouge(preds, refs, tokenizer=tok)
    scorer = rouge_scorer.RougeScorer(TYPES, tokenizer=SameTokens())
    _assert_items_equal(ours, [scorer.score(r, p) for p, r in zip(preds, refs, strict=True)])
    assert ours.mean("rougeLsum") > 0
