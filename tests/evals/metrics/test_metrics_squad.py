"""Exact match and F1, SQuAD v1.1 and KorQuAD 1.0 rules, on real KorQuAD items."""

from __future__ import annotations

import pytest

from ondo.errors import OndoError
from ondo.evals import metrics


def test_squad_normalization_follows_the_official_script():
    assert metrics.normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert metrics.normalize_answer("an apple, a pear") == "apple pear"
    # articles are removed only as whole words, after punctuation is gone
    assert metrics.normalize_answer("theatre") == "theatre"
    assert metrics.normalize_answer("the-end") == "theend"


def test_squad_em_and_f1_with_several_gold_answers():
    res = metrics.squad(["Denver Broncos", "Carolina", "nothing"],
                        [["Denver Broncos", "The Broncos"], ["Carolina Panthers"], ["Santa Clara"]])
    assert [it["exact_match"] for it in res.items] == [1.0, 0.0, 0.0]
    # "carolina" vs "carolina panthers": precision 1, recall 1/2
    assert res.items[1]["f1"] == pytest.approx(2 / 3)
    assert res.exact_match == pytest.approx(100 / 3)
    assert res.f1 == pytest.approx(100 * (1 + 2 / 3) / 3)


def test_korquad_f1_counts_characters_so_particles_do_not_zero_the_score(korquad_rows):
    gold = [row["answers"]["text"] for row in korquad_rows]
    # the gold answers themselves: perfect under both variants
    assert metrics.korquad([g[0] for g in gold], gold).exact_match == 100.0
    # the answer with a particle attached ("현인택은") is wrong as a word but mostly right by characters
    with_particle = [g[0] + "은" for g in gold]
    ko = metrics.squad(with_particle, gold, variant="korquad")
    en = metrics.squad(with_particle, gold, variant="squad")
    assert ko.exact_match == en.exact_match == 0.0
    assert 60 < ko.f1 < 100
    assert en.f1 < ko.f1 - 30
    first = gold[0][0]
    n = len(first.replace(" ", ""))
    assert metrics.token_f1(first + "은", [first], variant="korquad") == pytest.approx(2 * n / (2 * n + 1))
    # KorQuAD strips quotes and brackets, including the CJK ones
    assert metrics.normalize_answer("《토지》", "korquad") == "토지"
    assert metrics.exact_match("‘토지’", ["토지"], variant="korquad") == 1.0


def test_unknown_variant():
    with pytest.raises(OndoError, match="unknown QA variant"):
        metrics.squad(["a"], ["a"], variant="triviaqa")
