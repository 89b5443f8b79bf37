"""BLEU and chrF against sacrebleu, side by side, on real sentences and generated strings."""

from __future__ import annotations

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU, CHRF

from ondo.errors import InvalidInput, OndoError
from ondo.evals import metrics

TOL = 1e-9
TOKENIZERS = ["13a", "intl", "char", "zh", "none"]
SMOOTHING = [("exp", None), ("floor", None), ("floor", 0.3), ("add-k", None), ("add-k", 2), ("none", None)]

# words with the characters the tokenizers treat specially: punctuation, digits, &-escapes, CJK, Hangul, symbols
_WORDS = st.sampled_from(
    ["the", "The", "cat", "sat", "on", "mat", "a", "3.14", "1,000", "U.S.", "don't", "&amp;", "&quot;hi&quot;",
     "e-mail", "(x)", "x)", "42-", "¿qué?", "naïve", "中国", "人", "한국어", "날씨가", "€5", "—", "...", "<skipped>",
     "Hello,", "world!", "x\ny", "tab\there", "end-\nline"]
)
_SENTENCE = st.lists(_WORDS, min_size=0, max_size=14).map(" ".join)
_TEXT = st.one_of(_SENTENCE, st.text(min_size=0, max_size=40))


def _sacre_signature_body(sig: str) -> str:
    return sig.rsplit("|version:", 1)[0]


def _assert_bleu_equal(ours: metrics.BleuResult, theirs: sacrebleu.BLEUScore) -> None:
    assert ours.score == pytest.approx(theirs.score, abs=TOL)
    assert ours.counts == theirs.counts
    assert ours.totals == theirs.totals
    assert ours.precisions == pytest.approx(theirs.precisions, abs=TOL)
    assert ours.bp == pytest.approx(theirs.bp, abs=TOL)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)


@pytest.mark.parametrize("tok", TOKENIZERS)
@pytest.mark.parametrize("lowercase", [False, True])
def test_corpus_bleu_equals_sacrebleu_on_mt_bench(english_pairs, tok, lowercase):
    preds = [p for p, _ in english_pairs]
    refs = [r for _, r in english_pairs]
    ours = metrics.bleu(preds, refs, tokenize=tok, lowercase=lowercase)
    metric = BLEU(tokenize=tok, lowercase=lowercase)
    theirs = metric.corpus_score(preds, [refs])
    _assert_bleu_equal(ours, theirs)
    assert 5 < ours.score < 60  # real text: neither the degenerate 0 nor 100
    assert _sacre_signature_body(ours.signature) == _sacre_signature_body(str(metric.get_signature()))
    assert ours.signature.endswith(f"|version:{__import__('ondo').__version__}")
    assert ours.tokenizer == tok


@pytest.mark.parametrize(("method", "value"), SMOOTHING)
@pytest.mark.parametrize("effective_order", [False, True])
def test_smoothing_methods_equal_sacrebleu(english_pairs, method, value, effective_order):
    preds = [p for p, _ in english_pairs[:40]]
    refs = [r for _, r in english_pairs[:40]]
    ours = metrics.bleu(preds, refs, smooth_method=method, smooth_value=value, effective_order=effective_order)
    metric = BLEU(smooth_method=method, smooth_value=value, effective_order=effective_order)
    _assert_bleu_equal(ours, metric.corpus_score(preds, [refs]))
    assert _sacre_signature_body(ours.signature) == _sacre_signature_body(str(metric.get_signature()))
    # sentence level, item by item
    for p, r in english_pairs[:25]:
        s_ours = metrics.sentence_bleu(p, [r], smooth_method=method, smooth_value=value)
        s_theirs = sacrebleu.sentence_bleu(p, [r], smooth_method=method, smooth_value=value)
        assert s_ours.score == pytest.approx(s_theirs.score, abs=TOL)


def test_multiple_and_variable_references(english_pairs):
    preds = [p for p, _ in english_pairs[:60]]
    refs1 = [r for _, r in english_pairs[:60]]
    refs2 = [r for _, r in english_pairs[60:120]]
    ours = metrics.bleu(preds, [[a, b] for a, b in zip(refs1, refs2, strict=True)])
    theirs = sacrebleu.corpus_bleu(preds, [refs1, refs2])
    _assert_bleu_equal(ours, theirs)
    assert ours.signature.startswith("nrefs:2|")
    # sacrebleu's stream layout is accepted as is
    _assert_bleu_equal(metrics.bleu(preds, [refs1, refs2]), theirs)
    # a variable number of references (None in sacrebleu's streams)
    streams2 = [r if i % 3 else None for i, r in enumerate(refs2)]
    ours_var = metrics.bleu(preds, [[a] if b is None else [a, b] for a, b in zip(refs1, streams2, strict=True)])
    metric = BLEU()
    theirs_var = metric.corpus_score(preds, [refs1, streams2])
    _assert_bleu_equal(ours_var, theirs_var)
    assert ours_var.signature.startswith("nrefs:var|")
    assert str(metric.get_signature()).startswith("nrefs:var|")


def test_sentence_scores_match_sentence_bleu(english_pairs):
    preds = [p for p, _ in english_pairs[:50]]
    refs = [r for _, r in english_pairs[:50]]
    ours = metrics.sentence_scores(preds, refs)
    theirs = [sacrebleu.sentence_bleu(p, [r]).score for p, r in zip(preds, refs, strict=True)]
    assert ours == pytest.approx(theirs, abs=TOL)
    assert len(set(ours)) > 10


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT, _TEXT), min_size=1, max_size=6), st.sampled_from(TOKENIZERS),
       st.booleans())
def test_bleu_equals_sacrebleu_on_generated_text(rows, tok, lowercase):
    preds = [h for h, _, _ in rows]
    refs_a = [a for _, a, _ in rows]
    refs_b = [b for _, _, b in rows]
    ours = metrics.bleu(preds, [[a, b] for a, b in zip(refs_a, refs_b, strict=True)], tokenize=tok,
                        lowercase=lowercase)
    theirs = BLEU(tokenize=tok, lowercase=lowercase).corpus_score(preds, [refs_a, refs_b])
    _assert_bleu_equal(ours, theirs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=5), st.sampled_from([0, 2]), st.booleans(),
       st.booleans(), st.booleans())
def test_chrf_equals_sacrebleu_on_generated_text(rows, word_order, lowercase, whitespace, eps):
    preds = [h for h, _ in rows]
    refs = [r for _, r in rows]
    ours = metrics.chrf(preds, refs, word_order=word_order, lowercase=lowercase, whitespace=whitespace,
                        eps_smoothing=eps)
    theirs = CHRF(word_order=word_order, lowercase=lowercase, whitespace=whitespace,
                  eps_smoothing=eps).corpus_score(preds, [refs])
    assert ours.score == pytest.approx(theirs.score, abs=TOL)


@pytest.mark.parametrize("word_order", [0, 2])
def test_chrf_and_chrf_plus_plus_equal_sacrebleu_on_mt_bench(english_pairs, word_order):
    preds = [p for p, _ in english_pairs]
    refs = [r for _, r in english_pairs]
    refs2 = refs[1:] + refs[:1]
    ours = metrics.chrf(preds, [[a, b] for a, b in zip(refs, refs2, strict=True)], word_order=word_order)
    metric = CHRF(word_order=word_order)
    theirs = metric.corpus_score(preds, [refs, refs2])
    assert ours.score == pytest.approx(theirs.score, abs=TOL)
    assert ours.name == theirs.name
    assert _sacre_signature_body(ours.signature) == _sacre_signature_body(str(metric.get_signature()))
    for p, r in english_pairs[:20]:
        s = metrics.sentence_chrf(p, [r], word_order=word_order)
        assert s.score == pytest.approx(sacrebleu.sentence_chrf(p, [r], word_order=word_order).score, abs=TOL)


def test_korean_bleu_uses_morphemes_and_records_the_tokenizer(korquad_rows):
    # a Korean "prediction" that shares morphemes but few whitespace words with the reference
    questions = [row["question"] for row in korquad_rows[:30]]
    altered = [q.replace("은?", "는?").replace("는?", "은?") + " 입니다" for q in questions]
    ko = metrics.bleu(altered, questions, lang="ko")
    assert ko.tokenizer.startswith("ko-kiwi-")
    assert "|tok:ko-kiwi-" in ko.signature
    plain = metrics.bleu(altered, questions, tokenize="13a")
    assert plain.tokenizer == "13a"
    assert ko.totals[0] > plain.totals[0]  # morphemes split particles off words


def test_bad_inputs_are_refused_clearly():
    with pytest.raises(InvalidInput, match="2 predictions but 1 references"):
        metrics.bleu(["a", "b"], ["a"])
    with pytest.raises(OndoError, match=r"unknown BLEU tokenizer 'ko-mecab'.*ko-kiwi"):
        metrics.bleu(["a"], ["a"], tokenize="ko-mecab")
    with pytest.raises(OndoError, match="smooth_method"):
        metrics.bleu(["a"], ["a"], smooth_method="magic")
    with pytest.raises(InvalidInput, match="expected a string"):
        metrics.bleu([None], ["a"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="no reference"):
        metrics.chrf(["a"], [[]])


def test_tokenizer_spelling_aliases():
    a = metrics.bleu(["the cat sat"], ["the cat sat down"], tokenize="char")
    assert metrics.bleu(["the cat sat"], ["the cat sat down"], tokenizer="char") == a
    assert metrics.rouge(["서울"], ["서울"], tokenize="unicode").tokenizer == "unicode"
    with pytest.raises(OndoError, match="disagree"):
        metrics.bleu(["a"], ["a"], tokenize="13a", tokenizer="char")


def test_ko_kiwi_batch_tokenization_equals_line_by_line(korquad_rows):
    from ondo.evals.metrics.tokenizers import bleu_tokenizer

    tok = bleu_tokenizer("ko-kiwi")
    lines = [row["question"] for row in korquad_rows[:20]] + ["", "  ", "English and 한국어 mixed 123."]
    assert tok.tokens_many(lines) == [tok(line).split() for line in lines]


@pytest.mark.parametrize("tok", ["13a", "intl", "char", "none"])
def test_bleu_and_chrf_equal_sacrebleu_on_korean_text(korquad_rows, tok):
    preds = [row["question"] for row in korquad_rows]
    refs = [row["context"].split(". ")[0] for row in korquad_rows]
    _assert_bleu_equal(metrics.bleu(preds, refs, tokenize=tok), BLEU(tokenize=tok).corpus_score(preds, [refs]))
    assert metrics.chrf(preds, refs, word_order=2).score == pytest.approx(
        sacrebleu.corpus_chrf(preds, [refs], word_order=2).score, abs=TOL)


@pytest.mark.parametrize("lowercase", [False, True])
def test_korean_morpheme_bleu_equals_sacrebleu_on_kiwi_morphemes(korquad_rows, lowercase):
    """The Korean tokenizer plays sacrebleu's ko-mecab role: sacrebleu fed kiwipiepy's morphemes
    (split by kiwipiepy here, not by ondo) with tokenize='none' gives the same BLEU, n-gram for n-gram."""
    kiwipiepy = pytest.importorskip("kiwipiepy")
    kiwi = kiwipiepy.Kiwi()

    def morphemes(line: str) -> str:
        return " ".join("".join(t.form.split()) for t in kiwi.tokenize(line.strip())) if line.strip() else ""

    preds = [row["question"] for row in korquad_rows[:60]]
    refs = [row["context"].split(". ")[0] for row in korquad_rows[:60]]
    refs2 = [row["answers"]["text"][0] + " 입니다." for row in korquad_rows[:60]]
    ours = metrics.bleu(preds, [[a, b] for a, b in zip(refs, refs2, strict=True)], tokenize="ko-kiwi",
                        lowercase=lowercase)
    metric = BLEU(tokenize="none", lowercase=lowercase)
    theirs = metric.corpus_score([morphemes(p) for p in preds], [[morphemes(r) for r in refs],
                                                                  [morphemes(r) for r in refs2]])
    _assert_bleu_equal(ours, theirs)
    assert ours.score > 0 and ours.totals[0] > sum(len(p.split()) for p in preds)  # morphemes, not words
    body = _sacre_signature_body(str(metric.get_signature())).replace("tok:none", f"tok:{ours.tokenizer}")
    assert _sacre_signature_body(ours.signature) == body
    for p, r in zip(preds[:15], refs[:15], strict=True):  # sentence level too
        assert metrics.sentence_bleu(p, [r], tokenize="ko-kiwi").score == pytest.approx(
            sacrebleu.sentence_bleu(morphemes(p), [morphemes(r)], tokenize="none").score, abs=TOL)
