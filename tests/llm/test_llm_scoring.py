"""Transformers scoring: lm-eval's encoding rules, and the packed/prefix-sharing path giving the
same numbers as one plain forward pass per request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from benchmark_items import arc_requests, mmlu_requests
from hypothesis import given, settings
from hypothesis import strategies as st

from ondo.llm import scoring
from ondo.llm.types import LoglikelihoodRequest as R

pytestmark = pytest.mark.llm


def test_encoding_follows_lm_eval(hf_model: Any) -> None:
    tok = hf_model.tokenizer
    reqs = [R("Question: 2+2?\nAnswer: ", "4"), R("", "Hello there"), R("a b", " c d")]
    items = scoring.encode_requests(reqs, hf_model.encode, hf_model.prefix_token_id, hf_model.max_length)
    ctx = tok("Question: 2+2?\nAnswer:", add_special_tokens=False).input_ids
    whole = tok("Question: 2+2?\nAnswer: 4", add_special_tokens=False).input_ids
    assert list(items[0].context) == ctx and list(items[0].continuation) == whole[len(ctx):]
    assert list(items[1].context) == [tok.bos_token_id]
    assert list(items[1].continuation) == tok("Hello there", add_special_tokens=False).input_ids
    assert hf_model.max_length == hf_model.hf_model.config.max_position_embeddings


def test_left_truncation_keeps_the_continuation() -> None:
    items = scoring.encode_requests([R("x", "y")], lambda texts: [list(range(10)) if t == "x" else
                                                                   [*range(10), 50, 51] for t in texts], 0, 5)
    assert items[0].context == (6, 7, 8, 9) and items[0].continuation == (50, 51)


def check_packed_equals_plain(hf_model: Any, reqs: list[R]) -> tuple[int, int]:
    import torch

    items = scoring.encode_requests(reqs, hf_model.encode, hf_model.prefix_token_id, hf_model.max_length)
    with torch.inference_mode():
        packed_scorer = scoring.PackedScorer(hf_model.hf_model, row_tokens=256)
        packed = packed_scorer.score(items)
        plain_scorer = scoring.PlainScorer(hf_model.hf_model)
        plain = plain_scorer.score(items)
    for a, b in zip(packed, plain, strict=True):
        assert a.n_tokens == b.n_tokens
        assert a.logprob == pytest.approx(b.logprob, abs=2e-4)
        assert a.is_greedy == b.is_greedy
    return packed_scorer.forward_tokens, plain_scorer.forward_tokens


def test_packed_equals_plain_on_real_benchmark_items(hf_model: Any, shared_data: Path) -> None:
    reqs = arc_requests(shared_data, 2) + mmlu_requests(shared_data, "anatomy", 2, shots=1) + [R("", " Paris")]
    packed, plain = check_packed_equals_plain(hf_model, reqs)
    # the MMLU items share their 1-shot prefix, and each item's 4 choices share its context
    assert packed < plain / 2


@pytest.mark.slow
def test_packed_equals_plain_on_5_shot_mmlu_and_arc(hf_model: Any, shared_data: Path) -> None:
    reqs = arc_requests(shared_data, 6) + mmlu_requests(shared_data, "anatomy", 3)
    packed, plain = check_packed_equals_plain(hf_model, reqs)
    assert packed < plain / 3


def test_async_api_batches_and_keeps_order(hf_model: Any, shared_data: Path) -> None:
    reqs = arc_requests(shared_data, 3)
    forward = asyncio.run(hf_model.loglikelihood(reqs))
    backward = asyncio.run(hf_model.loglikelihood(list(reversed(reqs))))
    assert [r.logprob for r in forward] == pytest.approx([r.logprob for r in reversed(backward)], abs=1e-4)
    assert all(r.logprob < 0 and r.n_tokens == len(r.token_logprobs) for r in forward)


contexts = st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=30).map(tuple), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(contexts, st.integers(1, 8))
def test_prefix_plan_covers_every_group_once_with_a_true_common_prefix(ctxs: list[tuple[int, ...]],
                                                                       min_prefix: int) -> None:
    groups = scoring.group_by_context([scoring.EncodedRequest(i, c, (1,)) for i, c in enumerate(ctxs)])
    runs = scoring.plan_prefix_runs(groups, min_prefix)
    seen = [g.context for _, run in runs for g in run]
    assert sorted(seen) == sorted(g.context for g in groups)
    for prefix, run in runs:
        if prefix:
            assert prefix >= min_prefix and len(run) > 1
            assert all(g.context[:prefix] == run[0].context[:prefix] and len(g.context) > prefix for g in run)
