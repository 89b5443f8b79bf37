"""Per-item metrics, aggregation and few-shot sampling, side by side with lm-eval's own functions."""

from __future__ import annotations

import random

import lm_eval.api.metrics as lm_metrics
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ondo.evals.bench import registry, scoring
from ondo.evals.bench.task import FewShotSampler

lls_strategy = st.lists(st.floats(min_value=-80, max_value=-0.01, allow_nan=False), min_size=2, max_size=9)


@settings(max_examples=60, deadline=None)
@given(lls=lls_strategy, n_true=st.integers(min_value=1, max_value=8))
def test_mc2_equals_lm_eval(lls: list[float], n_true: int) -> None:
    from lm_eval.tasks.truthfulqa.utils import process_results_mc2

    n_true = min(n_true, len(lls) - 1)
    labels = [1] * n_true + [0] * (len(lls) - n_true)
    choices = [f"answer {i}" for i in range(len(lls))]
    doc = {
        "question": "q",
        "mc1_targets": {"choices": choices, "labels": [1] + [0] * (len(lls) - 1)},
        "mc2_targets": {"choices": choices, "labels": labels},
    }
    task = registry.get_task("truthfulqa_mc2")
    mine = scoring.score_multiple_choice(task, doc, lls, [False] * len(lls))  # type: ignore[arg-type]
    ref = process_results_mc2(doc, [(x, False) for x in lls])["acc"]
    assert mine.scores["mc2"] == pytest.approx(ref, abs=1e-12)
    assert mine.scores["acc"] == mine.scores["mc2"]


def test_acc_norm_and_acc_bytes_differ_on_hangul() -> None:
    """Per-character and per-byte normalisation pick different answers when Hangul and ASCII mix."""
    task = registry.get_task("ko_hellaswag")
    doc = {"query": "q", "choices": ["가나다라", "abcdefgh"], "label": 0}
    # per char: -4.4/4 = -1.1 vs -8/8 = -1.0 -> choice 1; per byte: -4.4/12 = -0.37 vs -1.0 -> choice 0
    s = scoring.score_multiple_choice(task, doc, [-4.4, -8.0], [False, False])  # type: ignore[arg-type]
    assert s.prediction == 0
    assert s.scores == {"acc": 1.0, "acc_norm": 0.0, "acc_bytes": 1.0}


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.sampled_from([0.0, 1.0]), min_size=2, max_size=60))
def test_stderr_equals_lm_eval(values: list[float]) -> None:
    assert scoring.mean_stderr(values) == pytest.approx(lm_metrics.mean_stderr(values), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=2, max_value=300), min_size=2, max_size=8),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_group_aggregation_equals_lm_eval(sizes: list[int], seed: int) -> None:
    rng = random.Random(seed)
    stderrs = [rng.uniform(0.01, 0.2) for _ in sizes]
    accs = [rng.random() for _ in sizes]
    sub = {
        f"t{i}": {"n": n, "metrics": {"acc": a, "acc_stderr": se}}
        for i, (n, a, se) in enumerate(zip(sizes, accs, stderrs, strict=True))
    }
    g = scoring.aggregate_group(sub, ["acc"])
    assert g["acc"] == pytest.approx(lm_metrics.aggregate_subtask_metrics(accs, sizes, True), abs=1e-12)
    assert g["acc_macro"] == pytest.approx(
        lm_metrics.aggregate_subtask_metrics(accs, sizes, False), abs=1e-12
    )
    assert g["acc_stderr"] == pytest.approx(float(lm_metrics.pooled_sample_stderr(stderrs, sizes)), abs=1e-12)
    assert g["acc_macro_stderr"] == pytest.approx(
        float(lm_metrics.unweighted_mean_stderr(stderrs)), abs=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    pool=st.integers(min_value=6, max_value=40),
    k=st.integers(min_value=1, max_value=5),
    docs=st.integers(min_value=1, max_value=8),
    same_split=st.booleans(),
)
def test_fewshot_draws_equal_lm_eval_sampler(pool: int, k: int, docs: int, same_split: bool) -> None:
    from lm_eval.api.samplers import ContextSampler

    items = [{"i": i} for i in range(pool)]
    ref = ContextSampler(items, rnd=None)
    ref.set_rnd(1234)
    mine = FewShotSampler(items, "default", 1234)
    for d in range(min(docs, pool)):
        eval_doc = items[d] if same_split else None
        assert mine.sample(k, eval_doc) == list(ref.sample(n=k, eval_doc=eval_doc))


def test_first_n_sampler_takes_file_order() -> None:
    items = [{"i": i} for i in range(7)]
    s = FewShotSampler(items, "first_n", 1234)
    assert s.sample(5) == items[:5]
    assert s.sample(2, items[0]) == items[1:3]


def test_exact_match_normalisation_like_lm_eval_kmmlu_direct() -> None:
    task = registry.get_task("kmmlu_direct_criminal_law")
    doc = {"question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": 2}
    assert scoring.score_generation(task, doc, " b").scores["exact_match"] == 1.0  # type: ignore[arg-type]
    assert scoring.score_generation(task, doc, "B,").scores["exact_match"] == 1.0  # type: ignore[arg-type]
    assert scoring.score_generation(task, doc, "C").scores["exact_match"] == 0.0  # type: ignore[arg-type]
    assert np.isnan(scoring.mean_stderr([1.0]))
