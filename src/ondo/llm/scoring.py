"""Batched log-likelihood scoring on a transformers causal LM, lm-evaluation-harness exact.

Tokenisation follows lm-eval v0.4 ``HFLM._encode_pair``: trailing spaces of the context move
onto the continuation, ``context_enc = tok(context)``, ``continuation_enc =
tok(context + continuation)[len(context_enc):]``, no special tokens, and an empty context is
replaced by the prefix token (BOS, else EOS). Scores are the sum of ``log_softmax`` over the
continuation positions; ``is_greedy`` is argmax equality at every one of them.

What makes it fast (same numbers, fewer FLOPs):

* **Shared contexts are computed once.** Requests with the same context (the choices of a
  multiple-choice item) are packed into *one* sequence ``context + choice1 + choice2 + ...``
  with a tree-shaped attention mask (each choice sees the context and itself) and explicit
  position ids, so every choice gets exactly the positions and attention it would have alone.
* **Shared prefixes across items are computed once.** Contexts sorted by tokens form runs with
  a long common prefix (MMLU's 5-shot exemplars per subject, TruthfulQA's fixed preamble); the
  prefix's KV cache is computed once and the suffixes run batched on top of it.
* **Only needed rows reach the LM head.** The vocabulary projection and ``log_softmax`` run on
  the continuation positions only, not on every context token.

A self-check compares the packed path against a plain forward pass on a small example before
first use; a model whose attention does not honour custom 4D masks falls back to plain,
lm-eval-identical batching (``scoring="plain"``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ondo.llm.types import LoglikelihoodRequest, LoglikelihoodResult, move_trailing_spaces

log = logging.getLogger("ondo.llm")

Encoder = Callable[[list[str]], list[list[int]]]


@dataclass(slots=True)
class EncodedRequest:
    index: int
    context: tuple[int, ...]
    continuation: tuple[int, ...]


def encode_requests(
    requests: Sequence[LoglikelihoodRequest],
    encode: Encoder,
    prefix_token_id: int,
    max_length: int,
) -> list[EncodedRequest]:
    """lm-eval's ``_encode_pair`` for every request, tokenising each distinct string once."""
    pairs = [move_trailing_spaces(r.context, r.continuation) for r in requests]
    texts: dict[str, int] = {}
    for ctx, cont in pairs:
        if ctx:
            texts.setdefault(ctx, len(texts))
            texts.setdefault(ctx + cont, len(texts))
        else:
            texts.setdefault(cont, len(texts))
    ids = encode(list(texts))
    out: list[EncodedRequest] = []
    for i, (ctx, cont) in enumerate(pairs):
        if ctx:
            context_enc = ids[texts[ctx]]
            whole = ids[texts[ctx + cont]]
            continuation_enc = whole[len(context_enc):]
        else:
            context_enc = [prefix_token_id]
            continuation_enc = ids[texts[cont]]
        context_enc, continuation_enc = _truncate(list(context_enc), list(continuation_enc), max_length)
        out.append(EncodedRequest(i, tuple(context_enc), tuple(continuation_enc)))
    return out


def _truncate(ctx: list[int], cont: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """lm-eval feeds ``(ctx + cont)[-(max_length + 1):][:-1]``: drop context tokens from the left."""
    whole = ctx + cont
    if len(whole) <= max_length + 1:
        return ctx, cont
    whole = whole[-(max_length + 1):]
    if len(cont) >= len(whole):
        return whole[:1], whole[1:]
    return whole[: len(whole) - len(cont)], cont


@dataclass(slots=True)
class _Group:
    """Requests sharing one context: one packed sequence ``context[prefix:] + branches``."""

    context: tuple[int, ...]
    items: list[EncodedRequest] = field(default_factory=list)

    def packed_len(self, prefix: int) -> int:
        return len(self.context) - prefix + sum(len(it.continuation) - 1 for it in self.items)


def group_by_context(items: Sequence[EncodedRequest]) -> list[_Group]:
    groups: dict[tuple[int, ...], _Group] = {}
    for it in items:
        groups.setdefault(it.context, _Group(it.context)).items.append(it)
    return list(groups.values())


def plan_prefix_runs(groups: list[_Group], min_prefix: int = 16) -> list[tuple[int, list[_Group]]]:
    """Cluster groups into runs sharing a token prefix worth caching.

    Groups are sorted by their context tokens; a run grows while sharing pays off: adding a
    group with common-prefix length ``l`` to a run of ``n`` groups sharing ``P`` tokens saves
    ``n * min(P, l)`` tokens instead of ``(n - 1) * P``. Each prefix stops at least one token
    short of every context (the last context token must run to predict the first choice token).
    """
    ordered = sorted(groups, key=lambda g: g.context)
    runs: list[tuple[int, list[_Group]]] = []
    cur: list[_Group] = []
    prefix = 0
    for g in ordered:
        if not cur:
            cur, prefix = [g], len(g.context) - 1
            continue
        lcp = _lcp(cur[-1].context, g.context)
        new_prefix = min(prefix, lcp, len(g.context) - 1)
        if new_prefix >= min_prefix and len(cur) * new_prefix >= (len(cur) - 1) * prefix:
            cur.append(g)
            prefix = new_prefix
        else:
            runs.append((prefix if len(cur) > 1 else 0, cur))
            cur, prefix = [g], len(g.context) - 1
    if cur:
        runs.append((prefix if len(cur) > 1 else 0, cur))
    return runs


def _lcp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PackedScorer:
    """Runs the plan above on a transformers ``*ForCausalLM`` (see module doc).

    Groups are packed back to back into rows of about ``row_tokens`` tokens (a block-diagonal
    tree mask keeps them apart), so there is no padding; on a CPU a bigger matrix buys little,
    while padding and the quadratic attention of very long rows cost real time.
    """

    def __init__(self, model: Any, *, row_tokens: int = 512, min_prefix: int = 16) -> None:
        self.model = model
        self.row_tokens = row_tokens
        self.min_prefix = min_prefix
        self.forward_tokens = 0  # tokens pushed through the model (for throughput reports)
        self._cache_kw: str | None = None

    def score(self, items: Sequence[EncodedRequest]) -> list[LoglikelihoodResult]:
        results: dict[int, LoglikelihoodResult] = {}
        runs = plan_prefix_runs(group_by_context(items), self.min_prefix)
        # groups that share no worthwhile prefix are pooled, so they still pack together
        unshared = [g for prefix_len, run in runs if prefix_len == 0 for g in run]
        shared = [(prefix_len, run) for prefix_len, run in runs if prefix_len > 0]
        for prefix_len, run in [*shared, (0, unshared)]:
            if not run:
                continue
            past = self._prefix_cache(run[0].context[:prefix_len]) if prefix_len else None
            for row in self._rows(run, prefix_len):
                results.update(self._score_row(row, prefix_len, past))
        return [results[it.index] for it in items]

    def _rows(self, groups: list[_Group], prefix_len: int) -> list[list[_Group]]:
        """First-fit decreasing packing of groups into rows of at most ``row_tokens``."""
        rows: list[list[_Group]] = []
        room: list[int] = []
        for g in sorted(groups, key=lambda g: (-g.packed_len(prefix_len), g.context)):
            n = g.packed_len(prefix_len)
            for r, free in enumerate(room):
                if n <= free:
                    rows[r].append(g)
                    room[r] -= n
                    break
            else:
                rows.append([g])
                room.append(self.row_tokens - n)
        return rows

    def _prefix_cache(self, prefix: tuple[int, ...]) -> list[tuple[Any, Any]]:
        import torch

        decoder = self.model.get_decoder()
        ids = torch.tensor([prefix], dtype=torch.long)
        out = decoder(input_ids=ids, use_cache=True)
        self.forward_tokens += len(prefix)
        cache = getattr(out, "cache", None) or out.past_key_values
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _score_row(self, groups: list[_Group], prefix_len: int, past: list[tuple[Any, Any]] | None
                   ) -> dict[int, LoglikelihoodResult]:
        import torch

        tokens: list[int] = []
        positions: list[int] = []
        group_of: list[int] = []
        branch_of: list[int] = []  # -1: the group's context
        rows: list[int] = []
        targets: list[int] = []
        spans: list[tuple[int, int, int]] = []  # (request index, first target, n targets)
        for gi, g in enumerate(groups):
            ctx = g.context[prefix_len:]
            tokens.extend(ctx)
            positions.extend(range(prefix_len, len(g.context)))
            group_of.extend([gi] * len(ctx))
            branch_of.extend([-1] * len(ctx))
            last_ctx = len(tokens) - 1
            for k, it in enumerate(g.items):
                cont = it.continuation
                branch = cont[:-1]
                start = len(tokens)
                tokens.extend(branch)
                positions.extend(range(len(g.context), len(g.context) + len(branch)))
                group_of.extend([gi] * len(branch))
                branch_of.extend([k] * len(branch))
                spans.append((it.index, len(targets), len(cont)))
                rows.append(last_ctx)
                rows.extend(range(start, start + len(branch)))
                targets.extend(cont)
        width = len(tokens)
        grp = torch.tensor(group_of)
        br = torch.tensor(branch_of)
        causal = torch.ones((width, width), dtype=torch.bool).tril()
        visible = (grp[None, :] == grp[:, None]) & ((br[None, :] == -1) | (br[None, :] == br[:, None]))
        mask = causal & visible  # [query, key]
        if prefix_len:
            mask = torch.cat([torch.ones((width, prefix_len), dtype=torch.bool), mask], dim=1)
        kwargs: dict[str, Any] = {}
        if past is not None:
            from transformers import DynamicCache

            if self._cache_kw is None:
                self._cache_kw = _cache_kwarg(self.model)
            kwargs[self._cache_kw] = DynamicCache(ddp_cache_data=list(past))
        decoder = self.model.get_decoder()
        out = decoder(input_ids=torch.tensor([tokens]), attention_mask=mask[None, None],
                      position_ids=torch.tensor([positions]), use_cache=False, **kwargs)
        self.forward_tokens += width
        hidden = out.last_hidden_state[0, torch.tensor(rows)]
        logprobs, greedy_ok = _select(self.model, hidden, torch.tensor(targets, dtype=torch.long))
        results: dict[int, LoglikelihoodResult] = {}
        for index, first, n in spans:
            vals = logprobs[first:first + n].tolist()
            results[index] = LoglikelihoodResult(logprob=float(sum(vals)),
                                                 is_greedy=bool(greedy_ok[first:first + n].all()),
                                                 token_logprobs=vals, n_tokens=n)
        return results


def _cache_kwarg(model: Any) -> str:
    """transformers 5 renamed ``past_key_values`` to ``cache``; accept both."""
    import inspect

    params = inspect.signature(model.get_decoder().forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _select(model: Any, hidden: Any, targets: Any) -> tuple[Any, Any]:
    """LM head on the selected rows, log_softmax in float32, target log-probs and greedy flags."""
    import torch

    logits = model.get_output_embeddings()(hidden)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(1, targets[:, None])[:, 0]
    greedy = logp.argmax(dim=-1) == targets
    return picked, greedy


class PlainScorer:
    """lm-eval's own batching: one padded row per request, full forward, longest first."""

    def __init__(self, model: Any, *, max_batch_tokens: int = 2048, max_batch_size: int = 64) -> None:
        self.model = model
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.forward_tokens = 0

    def score(self, items: Sequence[EncodedRequest]) -> list[LoglikelihoodResult]:
        import torch

        order = sorted(items, key=lambda it: (-(len(it.context) + len(it.continuation)),
                                              it.context + it.continuation))
        results: dict[int, LoglikelihoodResult] = {}
        i = 0
        while i < len(order):
            width = len(order[i].context) + len(order[i].continuation) - 1
            n = max(1, min(self.max_batch_size, self.max_batch_tokens // max(width, 1)))
            batch = order[i:i + n]
            i += n
            inputs = torch.zeros((len(batch), width), dtype=torch.long)
            for b, it in enumerate(batch):
                seq = (it.context + it.continuation)[:-1]
                inputs[b, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            logits = self.model(input_ids=inputs, use_cache=False).logits
            self.forward_tokens += inputs.numel()
            for b, it in enumerate(batch):
                inplen = len(it.context) + len(it.continuation) - 1
                rows = logits[b, inplen - len(it.continuation):inplen].float()
                logp = torch.log_softmax(rows, dim=-1)
                target = torch.tensor(it.continuation, dtype=torch.long)
                vals = logp.gather(1, target[:, None])[:, 0].tolist()
                greedy = bool((logp.argmax(dim=-1) == target).all())
                results[it.index] = LoglikelihoodResult(logprob=float(sum(vals)), is_greedy=greedy,
                                                        token_logprobs=vals, n_tokens=len(vals))
        return [results[it.index] for it in items]


def self_check(model: Any, encode: Encoder, prefix_token_id: int, tolerance: float = 1e-3) -> float:
    """Max |packed - plain| log-prob difference on a small example that exercises every trick."""
    reqs = [
        LoglikelihoodRequest("The quick brown fox jumps over the lazy dog. Question: what jumps?", " The fox"),
        LoglikelihoodRequest("The quick brown fox jumps over the lazy dog. Question: what jumps?", " A dog"),
        LoglikelihoodRequest("The quick brown fox jumps over the lazy dog. Question: who sleeps?", " The dog"),
        LoglikelihoodRequest("", "Hello world"),
    ]
    items = encode_requests(reqs, encode, prefix_token_id, max_length=10_000)
    packed = PackedScorer(model, min_prefix=4).score(items)
    plain = PlainScorer(model).score(items)
    worst = 0.0
    for p, q in zip(packed, plain, strict=True):
        for a, b in zip(p.token_logprobs, q.token_logprobs, strict=True):
            worst = max(worst, abs(a - b))
        if p.is_greedy != q.is_greedy and worst < tolerance:
            worst = max(worst, tolerance)
    return worst
