"""LLM spans for ``ondo.llm`` models called from application code.

``ondo.traces.instrument(model)`` wraps any ``ondo.llm`` model so that each ``chat``,
``generate`` and ``chat_stream`` call is an ``llm`` span (a child of the current span) with the
model, tokens, cost from the price table, latency and time to first token, and the messages
and answer as (redacted) bodies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ondo.errors import OndoError
from ondo.traces.spans import Span

log = logging.getLogger("ondo.traces")


def _price(provider: str, model: str, usage: Any) -> float | None:
    """USD from ``ondo.llm.cost``; None (unknown, not free) for a model the price table lacks."""
    from ondo.llm.cost import cost

    try:
        return cost(provider, model, usage)
    except OndoError as exc:  # a broken user price file must not break the traced call
        log.warning("pricing %s:%s failed: %s", provider, model, exc)
        return None


def instrument(model: Any, *, name: str | None = None, version: int | None = None, alias: str | None = None) -> Any:
    """``model`` with every call traced; ``name``/``version``/``alias`` label the spans (e.g. the registry
    model the app loaded), else the provider's model name is used."""
    from ondo.llm.provider import DelegatingModel, closing_stream
    from ondo.llm.types import ChatRequest, GenerateRequest

    class TracedModel(DelegatingModel):
        def _span(self, op: str, body: Any, request: Any) -> Span:
            s = Span(op, "llm", input=body)
            s.set_model(name or self.inner.model_name, version, alias=alias, provider=self.inner.provider)
            attrs: dict[str, Any] = {"gen_ai.operation.name": op}
            for field, key in (("temperature", "gen_ai.request.temperature"),
                               ("max_tokens", "gen_ai.request.max_tokens")):
                value = getattr(request, field, None)
                if value is not None:
                    attrs[key] = value
            return s.set_attributes(attrs)

        def _done(self, s: Span, response: Any) -> None:
            usage = response.usage
            s.set_usage(usage.input_tokens, usage.output_tokens,
                        _price(self.inner.provider, response.model or self.inner.model_name, usage))
            s.set_output(response.text)

        async def _traced(self, op: str, request: Any, call: Any, body: Any) -> Any:
            with self._span(op, body, request) as s:
                response = await call(request)
                self._done(s, response)
                return response

        async def chat(self, request: Any) -> Any:
            if isinstance(request, ChatRequest):
                body = [m.model_dump(exclude_none=True) for m in request.messages]
                return await self._traced("chat", request, self.inner.chat, body)
            return [await self.chat(r) for r in request]

        async def generate(self, request: Any) -> Any:
            if isinstance(request, GenerateRequest):
                return await self._traced("text_completion", request, self.inner.generate, request.prompt)
            return [await self.generate(r) for r in request]

        async def chat_stream(self, request: ChatRequest) -> AsyncIterator[Any]:
            body = [m.model_dump(exclude_none=True) for m in request.messages]
            s = self._span("chat", body, request).start()
            parts: list[str] = []
            try:
                async with closing_stream(self.inner.chat_stream(request)) as stream:
                    async for chunk in stream:
                        if chunk.delta:
                            s.mark_first_token()
                            parts.append(chunk.delta)
                        if chunk.usage is not None:
                            u = chunk.usage
                            s.set_usage(u.input_tokens, u.output_tokens,
                                        _price(self.inner.provider, chunk.model or self.inner.model_name, u))
                        yield chunk
            except BaseException as exc:
                s.set_output("".join(parts))
                s.end(None if isinstance(exc, GeneratorExit) else exc)
                raise
            s.set_output("".join(parts))
            s.end()

        async def loglikelihood(self, requests: Sequence[Any]) -> Any:
            return await self.inner.loglikelihood(requests)

    return TracedModel(model)
