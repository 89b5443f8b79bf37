"""Local GGUF models through llama-cpp-python: chat, completion, JSON-schema/grammar output, scoring.

``loglikelihood`` reads the logits rows of an evaluation with ``logits_all=True`` and takes
``log_softmax`` itself. It deliberately does not use ``create_completion(echo=True,
logprobs=...)``: upstream issue #1983 — those echoed prompt logprobs are shifted by one
position. Requests are sorted by tokens so consecutive ones share a prefix, and the KV cache
of that prefix is kept (``n_tokens`` rewound to the common prefix) instead of recomputed.

Two ``Llama`` instances are made lazily: one with ``logits_all`` for scoring (it keeps a
``n_ctx x vocab`` logits buffer) and one without for generation (faster sampling).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ondo.errors import NotFound
from ondo.llm.provider import ModelBase
from ondo.llm.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    SamplingParams,
    Usage,
    move_trailing_spaces,
)
from ondo.llm.weights import file_digest

_live: weakref.WeakSet[LlamaCppModel] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Free llama.cpp contexts before interpreter teardown; llama-cpp-python's own finaliser
    otherwise runs after its module globals are gone and prints a TypeError at exit."""
    for model in list(_live):
        model.close()


class LlamaCppModel(ModelBase):
    provider_name = "llamacpp"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_batch: int = 512,
        n_gpu_layers: int = 0,
        chat_format: str | None = None,
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise NotFound("GGUF file", str(self.path), [])
        self.n_ctx = n_ctx
        self.n_threads = n_threads or int(os.environ.get("ONDO_LLAMA_THREADS", "1"))
        self.n_batch = n_batch
        self.n_gpu_layers = n_gpu_layers
        self.chat_format = chat_format
        self.verbose = verbose
        self.seed = seed
        self._gen: Any = None
        self._score: Any = None
        self._gen_lock = threading.Lock()
        self._score_lock = threading.Lock()
        self._digest: str | None = None
        _live.add(self)

    def close(self) -> None:
        """Free both llama.cpp contexts (they are re-created on next use)."""
        for attr in ("_gen", "_score"):
            llm = getattr(self, attr)
            setattr(self, attr, None)
            if llm is not None:
                with contextlib.suppress(Exception):  # freeing is best effort
                    llm.close()

    # ---- identity -------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self.path.name

    @property
    def fingerprint(self) -> str:
        if self._digest is None:
            self._digest = file_digest(self.path)
        return f"llamacpp:{self.model_name}@{self._digest}"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"chat", "generate", "loglikelihood", "json_schema", "stream"})

    # ---- engines --------------------------------------------------------------------------------

    def _llama(self, logits_all: bool) -> Any:
        from llama_cpp import Llama

        return Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                     n_threads_batch=self.n_threads, n_batch=self.n_batch, n_gpu_layers=self.n_gpu_layers,
                     logits_all=logits_all, verbose=self.verbose, seed=self.seed, chat_format=self.chat_format)

    @property
    def generator(self) -> Any:
        """The ``llama_cpp.Llama`` used for generation (created on first use)."""
        if self._gen is None:
            self._gen = self._llama(logits_all=False)
        return self._gen

    @property
    def scorer(self) -> Any:
        if self._score is None:
            self._score = self._llama(logits_all=True)
        return self._score

    # ---- loglikelihood --------------------------------------------------------------------------

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return await asyncio.to_thread(self.loglikelihood_sync, requests)

    def loglikelihood_sync(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        import numpy as np

        with self._score_lock:
            llm = self.scorer
            encoded = [self._encode_pair(llm, r) for r in requests]
            order = sorted(range(len(encoded)), key=lambda i: encoded[i][0] + encoded[i][1])
            results: list[LoglikelihoodResult | None] = [None] * len(encoded)
            for i in order:
                ctx, cont = encoded[i]
                whole = (ctx + cont)[-self.n_ctx:]
                n_cont = min(len(cont), len(whole) - 1)
                keep = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), whole)
                keep = min(keep, len(whole) - 1)  # always evaluate at least the last token
                llm.n_tokens = keep
                llm.eval(whole[keep:])
                start = len(whole) - n_cont
                rows = np.asarray(llm.scores[start - 1: len(whole) - 1], dtype=np.float64)
                rows = rows - rows.max(axis=1, keepdims=True)
                logp = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
                target = np.asarray(whole[start:], dtype=np.int64)
                vals = logp[np.arange(n_cont), target]
                greedy = bool((logp.argmax(axis=1) == target).all())
                results[i] = LoglikelihoodResult(logprob=float(vals.sum()), is_greedy=greedy,
                                                 token_logprobs=[float(v) for v in vals], n_tokens=n_cont)
            return [r for r in results if r is not None]

    def _encode_pair(self, llm: Any, request: LoglikelihoodRequest) -> tuple[list[int], list[int]]:
        """lm-eval's ``_encode_pair`` with llama.cpp's tokenizer (no BOS; empty context -> BOS/EOS)."""
        context, continuation = move_trailing_spaces(request.context, request.continuation)
        if not context:
            bos = llm.token_bos()
            prefix = bos if bos is not None and bos >= 0 else llm.token_eos()
            return [prefix], llm.tokenize(continuation.encode(), add_bos=False, special=False)
        ctx = llm.tokenize(context.encode(), add_bos=False, special=False)
        whole = llm.tokenize((context + continuation).encode(), add_bos=False, special=False)
        return ctx, whole[len(ctx):]

    # ---- generation -----------------------------------------------------------------------------

    def _sampling(self, params: SamplingParams) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "temperature": params.temperature,
            "max_tokens": params.max_tokens or 256,
            "stop": params.stop or [],
        }
        if params.top_p is not None:
            kw["top_p"] = params.top_p
        if params.seed is not None:
            kw["seed"] = params.seed
        for key in ("top_k", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty"):
            if key in params.extra:
                kw[key] = params.extra[key]
        return kw

    def _grammar(self, params: SamplingParams) -> Any:
        from llama_cpp import LlamaGrammar

        if isinstance(params.extra.get("grammar"), str):
            return LlamaGrammar.from_string(params.extra["grammar"], verbose=self.verbose)
        schema = params.output_schema()
        if schema is not None:
            return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=self.verbose)
        if params.wants_json():
            from llama_cpp.llama_grammar import JSON_GBNF

            return LlamaGrammar.from_string(JSON_GBNF, verbose=self.verbose)
        return None

    def _messages(self, request: ChatRequest) -> list[dict[str, Any]]:
        return [{"role": m.role, "content": m.text} for m in request.messages]

    def _chat_sync(self, request: ChatRequest) -> ChatResponse:
        with self._gen_lock:
            started = time.perf_counter()
            out = self.generator.create_chat_completion(
                messages=self._messages(request), grammar=self._grammar(request), **self._sampling(request)
            )
            elapsed = time.perf_counter() - started
        choice = out["choices"][0]
        return ChatResponse(text=choice["message"].get("content") or "", finish_reason=choice.get("finish_reason"),
                            usage=Usage.from_llamacpp(out, compute_seconds=elapsed), model=self.model_name,
                            raw=_jsonable(out), latency_s=elapsed)

    def _generate_sync(self, request: GenerateRequest) -> ChatResponse:
        with self._gen_lock:
            started = time.perf_counter()
            out = self.generator.create_completion(prompt=request.prompt, grammar=self._grammar(request),
                                                   **self._sampling(request))
            elapsed = time.perf_counter() - started
        choice = out["choices"][0]
        return ChatResponse(text=choice.get("text") or "", finish_reason=choice.get("finish_reason"),
                            usage=Usage.from_llamacpp(out, compute_seconds=elapsed), model=self.model_name,
                            raw=_jsonable(out), latency_s=elapsed)

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self._chat_sync, request)

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        return await asyncio.to_thread(self._generate_sync, request)

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Tokens as llama.cpp produces them, handed from its thread through a queue."""
        self.require("chat")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        def produce() -> None:
            try:
                with self._gen_lock:
                    started = time.perf_counter()
                    n_out = 0
                    finish = None
                    for event in self.generator.create_chat_completion(
                        messages=self._messages(request), grammar=self._grammar(request), stream=True,
                        **self._sampling(request),
                    ):
                        choice = event["choices"][0]
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            n_out += 1
                            loop.call_soon_threadsafe(queue.put_nowait, ChatChunk(delta=delta, model=self.model_name))
                        finish = choice.get("finish_reason") or finish
                    # the stream reports no usage: count the messages' text (chat template aside)
                    text = "\n".join(m.text for m in request.messages)
                    n_in = len(self.generator.tokenize(text.encode(), add_bos=False, special=False))
                    usage = Usage(input_tokens=n_in, output_tokens=n_out, estimated=True,
                                  compute_seconds=time.perf_counter() - started)
                    loop.call_soon_threadsafe(queue.put_nowait, ChatChunk(finish_reason=finish or "stop",
                                                                          usage=usage, model=self.model_name))
            except BaseException as exc:  # surfaced in the consumer
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        task = loop.run_in_executor(None, produce)
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await task


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _jsonable(obj: Any) -> dict[str, Any]:
    try:
        return dict(json.loads(json.dumps(obj, default=str)))
    except (TypeError, ValueError):
        return {}
