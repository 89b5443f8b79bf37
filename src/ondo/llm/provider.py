"""The one interface every model provider implements, and a base class that does the plumbing.

Callers (evals, judges, the gateway) depend only on :class:`Model`. A provider subclasses
:class:`ModelBase` and implements the single-request hooks it can serve (``_chat_one``,
``_generate_one``, ``_loglikelihood_batch``, ``_embed``); the base turns lists into
concurrent calls and answers "can't do that" with an error that names what it *can* do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, overload, runtime_checkable

from ondo.errors import OndoError, UnsupportedOperation
from ondo.llm.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
)

#: Every capability a model may declare.
CAPABILITIES = frozenset({"chat", "generate", "loglikelihood", "json_schema", "embeddings", "stream"})

_TASK_TYPES = {
    "loglikelihood": "multiple-choice / loglikelihood tasks",
    "generate": "generate_until tasks",
    "chat": "chat tasks",
    "embeddings": "embeddings",
}



@contextlib.asynccontextmanager
async def closing_stream(stream: AsyncIterator[ChatChunk]) -> AsyncIterator[AsyncIterator[ChatChunk]]:
    """``async with closing_stream(inner.chat_stream(r)) as chunks``: the inner stream is closed
    however the iteration ends, also when the caller abandons this one midway; otherwise it
    would hold its HTTP connection and its place under ``max_concurrency`` until collected."""
    try:
        yield stream
    finally:
        await aclose_stream(stream)


async def aclose_stream(stream: Any) -> None:
    """Close an async iterator that can be closed (an async generator); others are left as they are."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()

class ProviderError(OndoError):
    """A provider failed after retries (HTTP error, dead server, bad response).

    ``status_code`` is the upstream HTTP status when there was one (the gateway maps it);
    the message never contains credentials.
    """

    def __init__(self, message: str, *, status_code: int | None = None, provider: str = "",
                 retryable: bool = False) -> None:
        self.status_code = status_code
        self.provider = provider
        self.retryable = retryable
        super().__init__(message)


@runtime_checkable
class Model(Protocol):
    """What ondo needs from a language model."""

    @property
    def fingerprint(self) -> str:
        """Stable id of the exact model: provider + model id + snapshot/file digest (cache key part)."""
        ...

    @property
    def capabilities(self) -> frozenset[str]: ...

    @property
    def provider(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @overload
    async def chat(self, request: ChatRequest) -> ChatResponse: ...
    @overload
    async def chat(self, request: Sequence[ChatRequest]) -> list[ChatResponse]: ...
    async def chat(self, request: ChatRequest | Sequence[ChatRequest]) -> ChatResponse | list[ChatResponse]: ...

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...

    @overload
    async def generate(self, request: GenerateRequest) -> ChatResponse: ...
    @overload
    async def generate(self, request: Sequence[GenerateRequest]) -> list[ChatResponse]: ...
    async def generate(
        self, request: GenerateRequest | Sequence[GenerateRequest]
    ) -> ChatResponse | list[ChatResponse]: ...

    async def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]: ...

    async def embed(self, texts: Sequence[str]) -> EmbeddingResponse: ...

    async def aclose(self) -> None: ...


class ModelBase:
    """Shared behaviour: list dispatch with a concurrency bound, capability errors, fallbacks."""

    provider_name: str = "model"
    #: how many single requests of a list run at once (HTTP providers raise it; local ones keep 1)
    max_concurrency: int = 1

    # ---- identity -------------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        raise NotImplementedError

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset()

    @property
    def provider(self) -> str:
        return self.provider_name

    @property
    def model_name(self) -> str:
        return self.fingerprint

    def credentials(self) -> tuple[str, ...]:
        """Secret values this model sends to its provider (API keys). Tracing and error paths
        scrub them from everything they store; local engines have none."""
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.fingerprint}>"

    # ---- public API -----------------------------------------------------------------------------

    @overload
    async def chat(self, request: ChatRequest) -> ChatResponse: ...
    @overload
    async def chat(self, request: Sequence[ChatRequest]) -> list[ChatResponse]: ...
    async def chat(self, request: ChatRequest | Sequence[ChatRequest]) -> ChatResponse | list[ChatResponse]:
        self.require("chat")
        if isinstance(request, ChatRequest):
            return await self._chat_one(request)
        return await self._many(self._chat_one, list(request))

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Stream an answer. Providers without native streaming yield the whole answer as one chunk."""
        self.require("chat")
        response = await self._chat_one(request)
        yield ChatChunk(delta=response.text, model=response.model)
        yield ChatChunk(finish_reason=response.finish_reason or "stop", usage=response.usage, model=response.model)

    @overload
    async def generate(self, request: GenerateRequest) -> ChatResponse: ...
    @overload
    async def generate(self, request: Sequence[GenerateRequest]) -> list[ChatResponse]: ...
    async def generate(
        self, request: GenerateRequest | Sequence[GenerateRequest]
    ) -> ChatResponse | list[ChatResponse]:
        self.require("generate")
        if isinstance(request, GenerateRequest):
            return await self._generate_one(request)
        return await self._many(self._generate_one, list(request))

    async def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Score every request; results come back in the order asked."""
        self.require("loglikelihood")
        reqs = list(requests)
        if not reqs:
            return []
        return await self._loglikelihood_batch(reqs)

    async def embed(self, texts: Sequence[str]) -> EmbeddingResponse:
        self.require("embeddings")
        return await self._embed(list(texts))

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> ModelBase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def require(self, capability: str) -> None:
        """Raise ``UnsupportedOperation`` naming what this model can do instead."""
        if capability in self.capabilities:
            return
        can = sorted(c for c in self.capabilities if c in _TASK_TYPES)
        runs = ", ".join(_TASK_TYPES[c] for c in can) or "nothing"
        raise UnsupportedOperation(
            f"model {self.fingerprint} does not support {capability}; "
            f"it supports: {', '.join(sorted(self.capabilities)) or 'nothing'} (it can run: {runs})"
        )

    # ---- provider hooks -------------------------------------------------------------------------

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        raise UnsupportedOperation(f"model {self.fingerprint} does not support chat")

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        raise UnsupportedOperation(f"model {self.fingerprint} does not support generate")

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        raise UnsupportedOperation(f"model {self.fingerprint} does not support loglikelihood")

    async def _embed(self, texts: list[str]) -> EmbeddingResponse:
        raise UnsupportedOperation(f"model {self.fingerprint} does not support embeddings")

    async def _many(self, fn: Any, items: list[Any]) -> list[Any]:
        # A fresh semaphore per call: asyncio primitives bind to one event loop, and a model
        # outlives loops (a CLI or test calls asyncio.run several times).
        sem = asyncio.Semaphore(max(1, self.max_concurrency))

        async def one(item: Any) -> Any:
            async with sem:
                return await fn(item)

        return list(await asyncio.gather(*(one(i) for i in items)))


class DelegatingModel(ModelBase):
    """A model that forwards to another (base of the cache, defaults and routing wrappers)."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    @property
    def provider(self) -> str:
        return self.inner.provider

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def max_concurrency(self) -> int:  # type: ignore[override]
        return int(getattr(self.inner, "max_concurrency", 1))

    def credentials(self) -> tuple[str, ...]:
        inner = getattr(self.inner, "credentials", None)
        return tuple(inner()) if callable(inner) else ()

    async def chat(self, request: Any) -> Any:
        self.require("chat")
        return await self.inner.chat(request)  # lists go through whole: the inner model may batch them

    async def generate(self, request: Any) -> Any:
        self.require("generate")
        return await self.inner.generate(request)

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.require("chat")
        async with closing_stream(self.inner.chat_stream(request)) as stream:
            async for chunk in stream:
                yield chunk

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        return await self.inner.chat(request)

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        return await self.inner.generate(request)

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        return await self.inner.loglikelihood(requests)

    async def _embed(self, texts: list[str]) -> EmbeddingResponse:
        return await self.inner.embed(texts)

    async def aclose(self) -> None:
        await self.inner.aclose()
