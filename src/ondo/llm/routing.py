"""Models assembled from other models: one engine per job, and registry-pinned default parameters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from ondo.llm.provider import DelegatingModel, Model, ModelBase, closing_stream
from ondo.llm.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    SamplingParams,
)


class RoutedModel(ModelBase):
    """Scoring on one engine, generation on another (``local:smollm2``: transformers scores,
    llama.cpp generates). Its fingerprint names both, so cache entries never mix engines."""

    def __init__(self, name: str, scorer: Model | None, generator: Model | None) -> None:
        if scorer is None and generator is None:
            raise ValueError("RoutedModel needs at least one engine")
        self.name = name
        self.scorer = scorer
        self.generator = generator

    @property
    def provider_name(self) -> str:  # type: ignore[override]
        return "local"

    @property
    def fingerprint(self) -> str:
        parts = [f"local:{self.name}"]
        if self.scorer is not None:
            parts.append("score=" + self.scorer.fingerprint)
        if self.generator is not None and self.generator is not self.scorer:
            parts.append("generate=" + self.generator.fingerprint)
        return "|".join(parts)

    @property
    def model_name(self) -> str:
        return self.name

    def credentials(self) -> tuple[str, ...]:
        out: list[str] = []
        for engine in (self.scorer, self.generator):
            fn = getattr(engine, "credentials", None)
            if callable(fn):
                out.extend(v for v in fn() if v not in out)
        return tuple(out)

    @property
    def capabilities(self) -> frozenset[str]:
        caps: set[str] = set()
        if self.scorer is not None:
            caps |= {"loglikelihood"} & self.scorer.capabilities
        if self.generator is not None:
            caps |= self.generator.capabilities - {"loglikelihood"}
        return frozenset(caps)

    async def chat(self, request: Any) -> Any:
        self.require("chat")
        assert self.generator is not None
        return await self.generator.chat(request)

    async def generate(self, request: Any) -> Any:
        self.require("generate")
        assert self.generator is not None
        return await self.generator.generate(request)

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.require("chat")
        assert self.generator is not None
        async with closing_stream(self.generator.chat_stream(request)) as stream:
            async for chunk in stream:
                yield chunk

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        assert self.scorer is not None
        return await self.scorer.loglikelihood(requests)

    async def _embed(self, texts: list[str]) -> EmbeddingResponse:
        assert self.generator is not None
        return await self.generator.embed(texts)

    async def aclose(self) -> None:
        for m in {id(m): m for m in (self.scorer, self.generator) if m is not None}.values():
            await m.aclose()


_SAMPLING_FIELDS = set(SamplingParams.model_fields) - {"extra"}


def params_key(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in sorted(params)}


class DefaultParamsModel(DelegatingModel):
    """Applies a registered model version's decoding params (temperature, max_tokens, system
    prompt...) to requests that did not set them explicitly."""

    def __init__(self, inner: Model, params: dict[str, Any], system_prompt: str | None = None) -> None:
        super().__init__(inner)
        self.params = {k: v for k, v in params.items() if k in _SAMPLING_FIELDS}
        self.extra = {k: v for k, v in params.items() if k not in _SAMPLING_FIELDS}
        self.system_prompt = system_prompt

    @property
    def fingerprint(self) -> str:
        # the defaults change answers, so they are part of the identity (and of cache keys)
        blob = json.dumps({"params": params_key(self.params), "extra": self.extra, "system": self.system_prompt},
                          sort_keys=True, default=str)
        return f"{self.inner.fingerprint}+defaults={hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def _apply(self, request: Any) -> Any:
        update = {k: v for k, v in self.params.items() if k not in request.model_fields_set}
        if self.extra:
            update["extra"] = {**self.extra, **request.extra}
        if self.system_prompt and isinstance(request, ChatRequest) and not any(
            m.role == "system" for m in request.messages
        ):
            from ondo.llm.types import ChatMessage

            update["messages"] = [ChatMessage(role="system", content=self.system_prompt), *request.messages]
        return request.model_copy(update=update) if update else request

    async def chat(self, request: Any) -> Any:
        self.require("chat")
        if isinstance(request, ChatRequest):
            return await self.inner.chat(self._apply(request))
        return await self.inner.chat([self._apply(r) for r in request])

    async def generate(self, request: Any) -> Any:
        self.require("generate")
        if isinstance(request, GenerateRequest):
            return await self.inner.generate(self._apply(request))
        return await self.inner.generate([self._apply(r) for r in request])

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.require("chat")
        async with closing_stream(self.inner.chat_stream(self._apply(request))) as stream:
            async for chunk in stream:
                yield chunk

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        return await self.inner.chat(self._apply(request))
