"""Perplexity, two ways, each as its reference defines it.

* :func:`rolling_perplexity` is lm-evaluation-harness's ``loglikelihood_rolling`` family
  (wikitext-style tasks): the model scores every token of each document in disjoint
  windows of its context length (:func:`rolling_windows`, lm-eval's
  ``get_rolling_token_windows`` + ``make_disjoint_window`` with ``context_len=1`` and the
  BOS/EOS token as prefix), and the corpus reports
  ``word_perplexity = exp(-sum(ll) / sum(words))`` with words = ``len(re.split(r"\\s+", doc))``,
  ``byte_perplexity = exp(-sum(ll) / sum(utf8 bytes))`` and
  ``bits_per_byte = -sum(ll) / sum(bytes) / ln 2``.
* :func:`strided_perplexity` is the sliding window of the transformers guide "Perplexity of
  fixed-length models": windows of ``max_length`` tokens every ``stride`` tokens, only the
  tokens not scored by the previous window are targets, and the token-weighted mean
  window loss is exponentiated (including the guide's ``num_valid_tokens - 1`` weighting).

The model is anything with the small methods below (:class:`RollingScorer`,
:class:`TokenScorer`); the LLM layer's providers and :class:`TransformersScorer` (a
plain transformers model, used by the tests) fit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

from ondo.errors import InvalidInput, UnsupportedOperation

_WS_RE = re.compile(r"\s+")


@runtime_checkable
class RollingScorer(Protocol):
    """Scores whole documents: total log-likelihood (natural log) of each text, no context."""

    def loglikelihood_rolling(self, texts: Sequence[str]) -> Sequence[Any]: ...


@runtime_checkable
class TokenScorer(Protocol):
    """Scores one token window: ``log p(ids[k] | ids[:k])`` for k = 1 .. len(ids) - 1."""

    def token_logprobs(self, ids: Sequence[int]) -> Sequence[float]: ...


@dataclass(frozen=True)
class RollingPerplexity:
    """lm-eval's rolling-loglikelihood metrics over a corpus, with the counts behind them."""

    word_perplexity: float
    byte_perplexity: float
    bits_per_byte: float
    loglikelihood: float
    words: int
    bytes: int
    items: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "word_perplexity": self.word_perplexity,
            "byte_perplexity": self.byte_perplexity,
            "bits_per_byte": self.bits_per_byte,
            "loglikelihood": self.loglikelihood,
            "words": self.words,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class StridedPerplexity:
    """The transformers guide's sliding-window perplexity."""

    perplexity: float
    nll_sum: float
    n_tokens: int
    max_length: int
    stride: int
    windows: int

    def to_dict(self) -> dict[str, Any]:
        return {"perplexity": self.perplexity, "nll_sum": self.nll_sum, "n_tokens": self.n_tokens,
                "max_length": self.max_length, "stride": self.stride, "windows": self.windows}


def count_words(text: str) -> int:
    """lm-eval's word count: ``len(re.split(r"\\s+", doc))`` (so leading/trailing space counts a word)."""
    return len(_WS_RE.split(text))


def count_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _as_float(value: Any) -> float:
    if isinstance(value, tuple | list):
        value = value[0]
    return float(value)


def rolling_perplexity_from_loglikelihoods(texts: Sequence[str], loglikelihoods: Sequence[float]) -> RollingPerplexity:
    """The lm-eval aggregates given each document's rolling log-likelihood."""
    if len(texts) != len(loglikelihoods):
        raise InvalidInput(f"{len(texts)} texts but {len(loglikelihoods)} log-likelihoods")
    if not texts:
        raise InvalidInput("perplexity needs at least one text")
    lls = [_as_float(x) for x in loglikelihoods]
    words = sum(count_words(t) for t in texts)
    nbytes = sum(count_bytes(t) for t in texts)
    total = sum(lls)
    if nbytes == 0:
        raise InvalidInput("perplexity of empty texts is undefined")
    return RollingPerplexity(
        word_perplexity=math.exp(-(total / words)),
        byte_perplexity=math.exp(-(total / nbytes)),
        bits_per_byte=-(total / nbytes) / math.log(2),
        loglikelihood=total,
        words=words,
        bytes=nbytes,
        items=lls,
    )


def rolling_perplexity(model: RollingScorer | Callable[[Sequence[str]], Sequence[Any]],
                       texts: Sequence[str]) -> RollingPerplexity:
    """Word/byte perplexity and bits per byte of ``texts`` under ``model`` (lm-eval's definitions).

    ``model`` has ``loglikelihood_rolling(texts) -> [float | (float, ...)]``, is such a callable,
    or is an ``ondo.llm`` model (see :class:`LLMRollingScorer`).
    """
    texts = list(texts)
    if hasattr(model, "loglikelihood_rolling"):
        lls = model.loglikelihood_rolling(texts)
    elif hasattr(model, "loglikelihood") and hasattr(model, "capabilities"):
        lls = LLMRollingScorer(model).loglikelihood_rolling(texts)
    elif callable(model):
        lls = model(texts)
    else:
        raise UnsupportedOperation(
            f"{type(model).__name__} cannot score whole documents: it needs a loglikelihood_rolling(texts) method"
        )
    return rolling_perplexity_from_loglikelihoods(texts, list(lls))


def rolling_windows(
    token_list: Sequence[int], prefix_token: int, max_seq_len: int, context_len: int = 1
) -> Iterator[tuple[list[int], list[int]]]:
    """lm-eval's disjoint rolling windows: (context, continuation) pairs covering every token once."""
    if not 1 <= context_len <= max_seq_len:
        raise InvalidInput("context_len must be between 1 and max_seq_len")
    tokens = list(token_list)
    if not tokens:
        return
    pred_len = max_seq_len - context_len + 1
    first = min(max_seq_len, len(tokens))
    windows: list[tuple[list[int], list[int]]] = [([prefix_token, *tokens[: first - 1]], tokens[:first])]
    predicted = first
    while predicted < len(tokens):
        window_pred_len = min(len(tokens) - predicted, pred_len)
        end = predicted + window_pred_len
        # end > max_seq_len here (the first window took max_seq_len tokens), so the start is >= 0
        windows.append((tokens[end - max_seq_len - 1 : end - 1], tokens[end - window_pred_len : end]))
        predicted += window_pred_len
    for ctx, cont in windows:
        yield ctx[: len(ctx) - (len(cont) - 1)], cont


def strided_perplexity(model: TokenScorer | Any, token_ids: Sequence[int] | str, *, max_length: int,
                       stride: int) -> StridedPerplexity:
    """Sliding-window perplexity of one token sequence, as the transformers perplexity guide computes it.

    ``model`` is a :class:`TokenScorer` or an ``ondo.llm`` model with local weights
    (``load_model("local:smollm2")``, see :func:`token_scorer`). ``token_ids`` may be a text when the
    model can ``encode`` it (the guide joins a corpus with ``"\n\n"`` and encodes it once).
    """
    model = token_scorer(model)
    if max_length < 2 or stride < 1 or stride > max_length:
        raise InvalidInput("need max_length >= 2 and 1 <= stride <= max_length")
    if isinstance(token_ids, str):
        encode = getattr(model, "encode", None)
        if encode is None:
            raise UnsupportedOperation(f"{type(model).__name__} cannot encode text; pass token ids")
        token_ids = encode(token_ids)
    ids: list[int] = [int(t) for t in token_ids]
    seq_len = len(ids)
    if seq_len < 2:
        raise InvalidInput("perplexity needs at least two tokens")
    nll_sum = 0.0
    n_tokens = 0
    prev_end = 0
    windows = 0
    for begin in range(0, seq_len, stride):
        end = min(begin + max_length, seq_len)
        trg_len = end - prev_end
        window = ids[begin:end]
        lps = list(model.token_logprobs(window))
        if len(lps) != len(window) - 1:
            raise InvalidInput(f"token_logprobs returned {len(lps)} values for a window of {len(window)} tokens")
        # labels are the last trg_len tokens; the model's internal shift drops position 0
        first_scored = max(len(window) - trg_len, 1)
        scored = lps[first_scored - 1 :]
        window_loss = -sum(scored) / len(scored)
        num_loss_tokens = trg_len - 1  # the guide: num_valid_tokens - batch_size
        nll_sum += window_loss * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end = end
        windows += 1
        if end == seq_len:
            break
    return StridedPerplexity(
        perplexity=math.exp(nll_sum / n_tokens), nll_sum=nll_sum, n_tokens=n_tokens, max_length=max_length,
        stride=stride, windows=windows,
    )


def _transformers_engine(model: Any) -> Any | None:
    """The local transformers engine inside an ``ondo.llm`` model (through the request cache's
    ``inner`` and ``local:``'s routed ``scorer``), or None."""
    seen: set[int] = set()
    while model is not None and id(model) not in seen:
        seen.add(id(model))
        if hasattr(model, "hf_model") and hasattr(model, "tokenizer"):
            return model
        model = getattr(model, "scorer", None) or getattr(model, "inner", None)
    return None


def token_scorer(model: Any) -> TokenScorer:
    """``model`` as a :class:`TokenScorer`: itself when it has ``token_logprobs``, else the local
    transformers engine of an ``ondo.llm`` model (``local:smollm2``, ``hf:PATH``) wrapped in
    :class:`TransformersScorer`. Token-level scores need the weights, so API models are refused."""
    if hasattr(model, "token_logprobs"):
        return cast(TokenScorer, model)
    engine = _transformers_engine(model)
    if engine is None:
        raise UnsupportedOperation(
            f"{type(model).__name__} has no token_logprobs(ids): cannot compute perplexity; strided perplexity "
            "needs the weights: a local transformers model (local:smollm2, hf:PATH) or metrics.TransformersScorer"
        )
    return TransformersScorer(engine.hf_model, engine.tokenizer, int(engine.max_length))


class TransformersScorer:
    """A transformers causal LM as a :class:`TokenScorer` and :class:`RollingScorer` (lm-eval's ``hf`` rules).

    Texts are encoded without special tokens; the rolling prefix is BOS, else EOS, as lm-eval.
    """

    def __init__(self, model: Any, tokenizer: Any, max_length: int | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length or int(getattr(model.config, "max_position_embeddings", 2048))

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos if bos is not None else self.tokenizer.eos_token_id)

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens (lm-eval's ``tok_encode`` for causal models)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _continuation_logprob(self, context: Sequence[int], continuation: Sequence[int]) -> float:
        import torch

        inp = ([*context, *continuation])[-(self.max_length + 1) :][:-1]
        with torch.no_grad():
            logits = self.model(torch.tensor([inp], dtype=torch.long)).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        n = len(continuation)
        rows = logprobs[len(inp) - n :]
        target = torch.tensor(list(continuation), dtype=torch.long)
        return float(rows.gather(1, target.unsqueeze(1)).sum())

    def token_logprobs(self, ids: Sequence[int]) -> list[float]:
        import torch

        with torch.no_grad():
            logits = self.model(torch.tensor([list(ids)], dtype=torch.long)).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        target = torch.tensor(list(ids[1:]), dtype=torch.long)
        return [float(x) for x in logprobs[:-1].gather(1, target.unsqueeze(1)).squeeze(1)]

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        out = []
        for text in texts:
            windows = rolling_windows(self.encode(text), self.prefix_token_id, self.max_length, 1)
            out.append(sum(self._continuation_logprob(ctx, cont) for ctx, cont in windows))
        return out


class LLMRollingScorer:
    """An ``ondo.llm`` model as a :class:`RollingScorer`.

    Each text is one ``loglikelihood`` request with an empty context; the provider scores it
    after the prefix token (BOS, else EOS) exactly as lm-eval's first rolling window does. That
    equals lm-eval's rolling log-likelihood for every text that fits the model's context window.
    Longer texts are cut into lm-eval's disjoint windows on the model's local transformers engine
    (``local:``/``hf:`` models); an API model gets them as one request (its own truncation applies).
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[float]:
        import asyncio

        from ondo.llm.types import LoglikelihoodRequest

        texts = list(texts)
        engine = _transformers_engine(self.model)
        long: set[int] = set()
        if engine is not None:
            max_len = int(engine.max_length)
            long = {i for i, ids in enumerate(engine.encode(texts)) if len(ids) > max_len}
        out: list[float] = [0.0] * len(texts)
        short = [i for i in range(len(texts)) if i not in long]
        if short:
            requests = [LoglikelihoodRequest(context="", continuation=texts[i]) for i in short]
            results = asyncio.run(self.model.loglikelihood(requests))
            for i, r in zip(short, results, strict=True):
                out[i] = float(r.logprob)
        if long:
            windows = token_scorer(engine)
            assert isinstance(windows, TransformersScorer)
            for i, ll in zip(sorted(long), windows.loglikelihood_rolling([texts[i] for i in sorted(long)]),
                             strict=True):
                out[i] = ll
        return out
