"""SDK spans: nesting through contextvars, the decorator on every kind of function, errors."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import ondo
from ondo.errors import InvalidInput
from ondo.traces import current_span, flush, get_trace, list_spans, traceparent
from ondo.workspace import Workspace


def _stored(ws: Workspace) -> dict[str, Any]:
    assert flush()
    return {s.name: s for s in list_spans(ws, limit=1000, bodies=True)}


def test_nested_spans_share_a_trace_and_link_parents(workspace: Workspace) -> None:
    with ondo.span("answer", kind="chain") as root:
        with ondo.span("retrieve", kind="retrieval") as r:
            r.set_output(["doc1", "doc2"])
            assert current_span() is r
        with ondo.span("generate", kind="llm") as g:
            g.set_model("assistant", 2, alias="production", provider="local")
            g.set_usage(input_tokens=12, output_tokens=7, cost_usd=0.0)
            g.set_prompt("summarize/3")
            with ondo.span("tool-call", kind="tool") as t:
                t.set_attribute("tool.name", "calculator")
        assert current_span() is root
    assert current_span() is None
    spans = _stored(workspace)
    assert {s.trace_id for s in spans.values()} == {root.trace_id}
    assert spans["answer"].parent_id is None
    assert spans["retrieve"].parent_id == root.span_id == spans["generate"].parent_id
    assert spans["tool-call"].parent_id == g.span_id
    gen = spans["generate"]
    assert (gen.model, gen.model_version, gen.model_alias, gen.provider) == ("assistant", 2, "production", "local")
    assert (gen.input_tokens, gen.output_tokens, gen.prompt_version) == (12, 7, "summarize/3")
    assert spans["retrieve"].output == ["doc1", "doc2"]
    assert spans["tool-call"].attributes == {"tool.name": "calculator"}
    [tree] = get_trace(workspace, root.trace_id)
    assert [c.name for c in tree.children] == ["retrieve", "generate"]
    assert [c.name for c in tree.children[1].children] == ["tool-call"]
    assert all(s.latency_ms is not None and s.end_time >= s.start_time for s in spans.values())


def test_exception_marks_span_as_error_and_propagates(workspace: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), ondo.span("divide", kind="tool"):
        _ = 1 / 0
    span = _stored(workspace)["divide"]
    assert span.status == "error" and span.error is not None and span.error.startswith("ZeroDivisionError")


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="llm, retrieval, tool, chain"):
        ondo.span("x", kind="banana")
    with pytest.raises(InvalidInput):
        ondo.trace(kind="banana")


def test_decorator_on_sync_async_and_generator_functions(workspace: Workspace) -> None:
    @ondo.trace
    def add(a: int, b: int = 2) -> int:
        return a + b

    @ondo.trace(name="fetch", kind="retrieval")
    async def fetch(query: str) -> list[str]:
        await asyncio.sleep(0)
        with ondo.span("inner", kind="tool"):
            pass
        return [query.upper()]

    @ondo.trace(kind="llm")
    def tokens(n: int) -> Iterator[str]:
        for i in range(n):
            with ondo.span(f"tok{i}", kind="tool"):
                pass
            yield f"t{i}"

    @ondo.trace(kind="llm")
    async def atokens(n: int) -> AsyncIterator[str]:
        for i in range(n):
            yield f"a{i}"

    @ondo.trace(capture_input=False, capture_output=False)
    def private(secret: str) -> str:
        return secret

    assert add(1) == 3
    assert asyncio.run(fetch("q")) == ["Q"]
    assert list(tokens(2)) == ["t0", "t1"]

    async def consume() -> list[str]:
        return [x async for x in atokens(3)]

    assert asyncio.run(consume()) == ["a0", "a1", "a2"]
    assert private("hunter2") == "hunter2"
    spans = _stored(workspace)
    add_span = next(s for n, s in spans.items() if n.endswith("add"))
    assert add_span.input == {"a": 1}
    assert add_span.output == "3"  # non-JSON-container outputs are stored as text
    assert spans["fetch"].kind == "retrieval" and spans["fetch"].output == ["Q"]
    assert spans["inner"].parent_id == spans["fetch"].span_id
    tok = next(s for n, s in spans.items() if n.endswith("tokens") and "atokens" not in n)
    assert tok.output == ["t0", "t1"] and tok.ttft_ms is not None
    assert spans["tok0"].parent_id == tok.span_id == spans["tok1"].parent_id
    atok = next(s for n, s in spans.items() if n.endswith("atokens"))
    assert atok.output == ["a0", "a1", "a2"]
    priv = next(s for n, s in spans.items() if n.endswith("private"))
    assert priv.input is None and priv.output is None


def test_generator_span_is_not_current_between_items(workspace: Workspace) -> None:
    @ondo.trace
    def gen() -> Iterator[int]:
        yield 1
        yield 2

    it = gen()
    next(it)
    assert current_span() is None  # the caller's code between items is not inside the generator's span
    with ondo.span("caller-side"):
        pass
    list(it)
    spans = _stored(workspace)
    assert spans["caller-side"].parent_id is None


def test_concurrent_tasks_and_threads_keep_their_own_parents(workspace: Workspace) -> None:
    async def task(name: str) -> None:
        with ondo.span(name):
            await asyncio.sleep(0.01)
            with ondo.span(name + "-child"):
                await asyncio.sleep(0.01)

    async def main() -> None:
        await asyncio.gather(task("a"), task("b"))

    asyncio.run(main())

    def work(name: str) -> None:
        with ondo.span(name), ondo.span(name + "-child"):
            pass

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = _stored(workspace)
    for name in ("a", "b", "t0", "t1", "t2", "t3"):
        assert spans[name + "-child"].parent_id == spans[name].span_id
        assert spans[name + "-child"].trace_id == spans[name].trace_id
    assert spans["a"].trace_id != spans["b"].trace_id


def test_traceparent_names_the_current_span() -> None:
    assert traceparent() is None
    with ondo.span("outer") as s:
        assert traceparent() == f"00-{s.trace_id}-{s.span_id}-01"


def test_first_token_time(workspace: Workspace) -> None:
    with ondo.span("stream", kind="llm") as s:
        s.mark_first_token()
        first = s.record.ttft_ms
        s.mark_first_token()
        assert s.record.ttft_ms == first  # only the first one counts
    span = _stored(workspace)["stream"]
    assert span.ttft_ms is not None and span.ttft_ms <= span.latency_ms


def test_instrumented_model_records_llm_spans(workspace: Workspace) -> None:
    from ondo.llm.provider import ModelBase
    from ondo.llm.types import ChatChunk, ChatMessage, ChatRequest, ChatResponse, GenerateRequest, Usage

    class Echo(ModelBase):
        provider_name = "openai"

        @property
        def fingerprint(self) -> str:
            return "openai:gpt-4o-mini"

        @property
        def model_name(self) -> str:
            return "gpt-4o-mini"

        @property
        def capabilities(self) -> frozenset[str]:
            return frozenset({"chat", "generate", "stream"})

        async def _chat_one(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(text="pong", usage=Usage(input_tokens=1000, output_tokens=2000), model="gpt-4o-mini")

        async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
            return ChatResponse(text=" world", usage=Usage(input_tokens=2, output_tokens=1), model="gpt-4o-mini")

        async def chat_stream(self, request: ChatRequest) -> Any:
            for piece in ("a", "b"):
                yield ChatChunk(delta=piece, model="gpt-4o-mini")
            yield ChatChunk(finish_reason="stop", usage=Usage(input_tokens=3, output_tokens=2), model="gpt-4o-mini")

    model = ondo.traces.instrument(Echo(), name="assistant", version=3, alias="production")
    req = ChatRequest(messages=[ChatMessage(role="user", content="ping")], temperature=0.5)

    async def go() -> list[str]:
        with ondo.span("app"):
            answer = await model.chat(req)
            gen = await model.generate(GenerateRequest(prompt="hello"))
            streamed = [c.delta async for c in model.chat_stream(req)]
        return [answer.text, gen.text, "".join(streamed)]

    assert asyncio.run(go()) == ["pong", " world", "ab"]
    assert flush()
    spans = list_spans(workspace, bodies=True, kind="llm")
    app = list_spans(workspace, name="app")[0]
    assert len(spans) == 3 and all(s.parent_id == app.span_id for s in spans)
    chat = next(s for s in spans if s.output == "pong")
    assert (chat.model, chat.model_version, chat.model_alias, chat.provider) == ("assistant", 3, "production", "openai")
    assert chat.input == [{"role": "user", "content": "ping"}] and chat.input_tokens == 1000
    assert chat.attributes["gen_ai.request.temperature"] == 0.5
    try:
        from ondo.llm.cost import price_for
    except ImportError:  # the price table not installed: the span has no cost
        price = None
    else:
        price = price_for("openai", "gpt-4o-mini")
    if price is not None:  # priced from the table: 1000 in, 2000 out
        assert chat.cost_usd == pytest.approx(price.cost(Usage(input_tokens=1000, output_tokens=2000)))
    stream = next(s for s in spans if s.output == "ab")
    assert stream.ttft_ms is not None and stream.output_tokens == 2


@pytest.mark.parametrize(("provider", "model", "expected"), [("openai-compatible", "house-model", None),
                                                             ("llamacpp", "SmolLM2", 0.0)])
def test_instrumented_cost_is_unknown_for_unpriced_models_and_zero_for_local(
    workspace: Workspace, provider: str, model: str, expected: float | None
) -> None:
    from ondo.llm.provider import ModelBase
    from ondo.llm.types import ChatMessage, ChatRequest, ChatResponse, Usage

    class Fixed(ModelBase):
        provider_name = provider

        @property
        def fingerprint(self) -> str:
            return f"{provider}:{model}"

        @property
        def model_name(self) -> str:
            return model

        @property
        def capabilities(self) -> frozenset[str]:
            return frozenset({"chat"})

        async def _chat_one(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(text="ok", usage=Usage(input_tokens=10**6, output_tokens=10**6), model=model)

    traced = ondo.traces.instrument(Fixed())
    asyncio.run(traced.chat(ChatRequest(messages=[ChatMessage(role="user", content="hi")])))
    assert flush()
    [span] = list_spans(workspace, kind="llm")
    assert span.cost_usd == expected and span.input_tokens == 10**6
