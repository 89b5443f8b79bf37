"""Prefix-reuse log-likelihood scoring on a transformers causal LM (lm-eval HFLM semantics).

STAND-IN, owned by the benchmark runner: the provider layer (``ondo.llm``) owns model loading and
its transformers engine scores requests one sequence at a time. Multiple-choice benchmarks ask for
the same context with several continuations, so this scorer computes the context once, keeps its
key/value cache, and scores all continuations of that context in one batched pass over the cache
(prefix reuse). Continuations of one token need no second pass at all. Several single-token-only
contexts (MMLU's " A".." D") are batched together. It is used by the runner when the engine under a
model exposes its ``transformers`` model and tokenizer, or directly for ``hf:`` paths while the
provider's engine is not installed. Fold it into ``ondo.llm``'s transformers engine when that grows
prefix reuse.

Tokenisation follows lm-eval's ``TemplateLM``/``HFLM`` exactly: trailing spaces of the context move
onto the continuation; ``whole = enc(context + continuation)``, ``ctx = enc(context)``,
``cont = whole[len(ctx):]``; the model input is ``ctx + cont`` (left-truncated to ``max_length + 1``);
an empty context becomes the prefix token (BOS, else EOS). ``is_greedy`` is true when every
continuation token is the argmax.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ondo.llm.provider import ModelBase
from ondo.llm.types import LoglikelihoodRequest, LoglikelihoodResult, move_trailing_spaces

_MODEL_ATTRS = ("hf_model", "model", "_model", "_hf_model")
_TOKENIZER_ATTRS = ("tokenizer", "_tokenizer", "hf_tokenizer")


class PrefixReuseScorer(ModelBase):
    """Loglikelihood-only model over a loaded ``transformers`` causal LM and its tokenizer."""

    provider_name = "transformers"
    prefix_reuse = True

    def __init__(
        self,
        hf_model: Any,
        tokenizer: Any,
        fingerprint: str,
        *,
        max_length: int | None = None,
        batch_tokens: int = 4096,
    ) -> None:
        self.hf_model = hf_model
        self.tokenizer = tokenizer
        self._fingerprint = fingerprint
        cfg_len = getattr(getattr(hf_model, "config", None), "max_position_embeddings", None)
        self.max_length = int(max_length or cfg_len or 2048)
        self.batch_tokens = batch_tokens
        bos = getattr(tokenizer, "bos_token_id", None)
        self.prefix_token_id = bos if bos is not None else tokenizer.eos_token_id
        self.tokens_scored = 0  # tokens through forward passes (for throughput reports)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(cls, path: str | Path, gguf_file: str | None = None, **kw: Any) -> PrefixReuseScorer:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        opts = {"gguf_file": gguf_file} if gguf_file else {}
        tok = AutoTokenizer.from_pretrained(str(path), **opts)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, **opts)
        model.eval()
        return cls(model, tok, _path_fingerprint(Path(path), gguf_file), **kw)

    @classmethod
    def wrap(cls, model: Any) -> PrefixReuseScorer | None:
        """The scorer for a provider model whose (possibly nested) engine holds a transformers model."""
        seen: set[int] = set()
        stack = [model]
        while stack:
            m = stack.pop()
            if m is None or id(m) in seen:
                continue
            seen.add(id(m))
            if isinstance(m, PrefixReuseScorer):
                return m
            hf = next((getattr(m, a) for a in _MODEL_ATTRS if _is_torch_module(getattr(m, a, None))), None)
            tok = next((getattr(m, a) for a in _TOKENIZER_ATTRS if getattr(m, a, None) is not None), None)
            if hf is not None and tok is not None:
                return cls(hf, tok, str(getattr(m, "fingerprint", "transformers")))
            stack += [getattr(m, a, None) for a in ("scorer", "inner", "model", "_inner", "base", "wrapped")]
        return None

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"loglikelihood"})

    # ------------------------------------------------------------------ encoding (lm-eval rules)
    def _enc(self, text: str, special: bool | None = None) -> list[int]:
        if special is None:
            return list(self.tokenizer.encode(text))
        return list(self.tokenizer.encode(text, add_special_tokens=special))

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        if context == "":
            cont = self._enc(continuation, special=False)
            if cont and cont[0] == self.prefix_token_id:
                return cont[:1], cont[1:]
            return [self.prefix_token_id], cont
        context, continuation = move_trailing_spaces(context, continuation)
        whole = self._enc(context + continuation)
        ctx = self._enc(context)
        return ctx, whole[len(ctx) :]

    # ------------------------------------------------------------------ scoring
    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return await asyncio.to_thread(self.score, requests)

    def score(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        import torch

        encoded = [self.encode_pair(r.context, r.continuation) for r in requests]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, _) in enumerate(encoded):
            groups.setdefault(tuple(ctx), []).append(i)
        results: list[LoglikelihoodResult | None] = [None] * len(requests)
        single: list[tuple[tuple[int, ...], list[int]]] = []
        with torch.inference_mode():
            for key, idxs in groups.items():
                conts = [encoded[i][1] for i in idxs]
                if len(key) + max(len(c) for c in conts) > self.max_length + 1:
                    for i in idxs:  # too long for the window: lm-eval's left truncation, one sequence each
                        results[i] = self._score_truncated(*encoded[i])
                elif all(len(c) == 1 for c in conts):
                    single.append((key, idxs))
                else:
                    for i, res in zip(idxs, self._score_group(list(key), conts), strict=True):
                        results[i] = res
            self._score_single_token_groups(single, encoded, results)
        return [r for r in results if r is not None] if all(r is not None for r in results) else _missing()

    def _forward(self, input_ids: Any, past: Any = None) -> tuple[Any, Any]:
        """Logits and the key/value cache (transformers >= 5.2x calls it ``cache``, older ``past_key_values``)."""
        kw = {} if past is None else {self._cache_kw: past}
        out = self.hf_model(input_ids=input_ids, use_cache=True, **kw)
        self.tokens_scored += int(input_ids.numel())
        cache = out.get("cache", None) if hasattr(out, "get") else None
        return out.logits, cache if cache is not None else getattr(out, "past_key_values", None)

    @functools.cached_property
    def _cache_kw(self) -> str:
        import inspect

        params = inspect.signature(self.hf_model.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def _score_group(self, ctx: list[int], conts: list[list[int]]) -> list[LoglikelihoodResult]:
        import torch
        import torch.nn.functional as F

        logits, past = self._forward(torch.tensor([ctx], dtype=torch.long))
        first = F.log_softmax(logits[0, -1].float(), dim=-1)
        longer = [j for j, c in enumerate(conts) if len(c) > 1]
        tails: dict[int, Any] = {}
        if longer:
            width = max(len(conts[j]) - 1 for j in longer)
            pad = self.prefix_token_id if self.prefix_token_id is not None else 0
            rows = [conts[j][:-1] + [pad] * (width - (len(conts[j]) - 1)) for j in longer]
            if len(rows) > 1:
                past.batch_repeat_interleave(len(rows))
            step_logits, _ = self._forward(torch.tensor(rows, dtype=torch.long), past)
            logp = F.log_softmax(step_logits.float(), dim=-1)
            for b, j in enumerate(longer):
                tails[j] = logp[b]
        results = []
        for j, cont in enumerate(conts):
            lp = [first]
            if j in tails:
                lp += [tails[j][k] for k in range(len(cont) - 1)]
            results.append(_result(lp, cont))
        return results

    def _score_single_token_groups(
        self,
        groups: list[tuple[tuple[int, ...], list[int]]],
        encoded: list[tuple[list[int], list[int]]],
        results: list[LoglikelihoodResult | None],
    ) -> None:
        """Contexts whose continuations are all one token: batch whole contexts, read the last position."""
        import torch
        import torch.nn.functional as F

        groups = sorted(groups, key=lambda g: -len(g[0]))
        i = 0
        while i < len(groups):
            width = len(groups[i][0])
            n = max(1, min(len(groups) - i, self.batch_tokens // max(width, 1)))
            batch = groups[i : i + n]
            rows = [list(ctx) + [0] * (width - len(ctx)) for ctx, _ in batch]
            out = self.hf_model(input_ids=torch.tensor(rows, dtype=torch.long), use_cache=False)
            self.tokens_scored += width * len(rows)
            for b, (ctx, idxs) in enumerate(batch):
                lp = F.log_softmax(out.logits[b, len(ctx) - 1].float(), dim=-1)
                for k in idxs:
                    results[k] = _result([lp], encoded[k][1])
            i += n

    def _score_truncated(self, ctx: list[int], cont: list[int]) -> LoglikelihoodResult:
        import torch
        import torch.nn.functional as F

        inp = (ctx + cont)[-(self.max_length + 1) :][:-1]
        out = self.hf_model(input_ids=torch.tensor([inp], dtype=torch.long), use_cache=False)
        self.tokens_scored += len(inp)
        logp = F.log_softmax(out.logits[0, -len(cont) :].float(), dim=-1)
        return _result([logp[k] for k in range(len(cont))], cont)


def _result(step_logprobs: list[Any], cont: list[int]) -> LoglikelihoodResult:
    token_lps = [float(step_logprobs[k][tok]) for k, tok in enumerate(cont)]
    greedy = all(int(step_logprobs[k].argmax()) == tok for k, tok in enumerate(cont))
    return LoglikelihoodResult(
        logprob=float(sum(token_lps)), is_greedy=greedy, token_logprobs=token_lps, n_tokens=len(cont)
    )


def _missing() -> list[LoglikelihoodResult]:  # pragma: no cover - defensive
    raise RuntimeError("prefix scorer left a request unscored")


def _is_torch_module(obj: Any) -> bool:
    return obj is not None and type(obj).__module__.startswith("transformers.") and hasattr(obj, "forward")


def _path_fingerprint(path: Path, gguf_file: str | None) -> str:
    target = path / gguf_file if gguf_file else path
    h = hashlib.sha256()
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(target.parent if target.is_file() else target)}:{st.st_size}".encode())
        if f.suffix in (".json", ".safetensors", ".gguf", ".bin") and st.st_size < 1 << 30:
            with open(f, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return f"transformers:{target.name}@sha256:{h.hexdigest()[:16]}"
