"""The request cache: identical calls come from the store, a killed evaluation resumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from ondo.llm.cache import CachedModel
from ondo.llm.provider import ModelBase
from ondo.llm.types import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Usage,
)
from ondo.store.tables.llm import llm_cache
from ondo.workspace import Workspace


class Counting(ModelBase):
    """Answers deterministically from the request and counts what reached it."""

    provider_name = "test"

    def __init__(self, name: str = "counting", fail_after: int | None = None) -> None:
        self.name = name
        self.calls = 0
        self.scored: list[LoglikelihoodRequest] = []
        self.fail_after = fail_after

    @property
    def fingerprint(self) -> str:
        return f"test:{self.name}"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"chat", "generate", "loglikelihood"})

    async def _chat_one(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        return ChatResponse(text=f"answer {self.calls} to {request.messages[-1].text}",
                            usage=Usage(input_tokens=3, output_tokens=2), model=self.name)

    async def _generate_one(self, request: GenerateRequest) -> ChatResponse:
        self.calls += 1
        return ChatResponse(text=request.prompt.upper(), model=self.name)

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.calls += 1
        for part in ("str", "eam"):
            yield ChatChunk(delta=part)
        yield ChatChunk(finish_reason="stop", usage=None if "no usage" in request.messages[-1].text else Usage(
            output_tokens=2))

    async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        if self.fail_after is not None and len(self.scored) >= self.fail_after:
            raise RuntimeError("killed")
        self.scored.extend(requests)
        return [LoglikelihoodResult(-float(len(r.continuation)), len(r.continuation) < 3, [-1.0], 1)
                for r in requests]


def ask(text: str, **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **kw)


def test_identical_chat_is_answered_from_the_store(workspace: Workspace) -> None:
    inner = Counting()
    model = CachedModel(inner, workspace)
    first = asyncio.run(model.chat(ask("hi")))
    again = asyncio.run(CachedModel(Counting(), workspace).chat(ask("hi")))  # a new process, same store
    assert again.text == first.text and again.cached and not first.cached
    assert again.usage == first.usage
    asyncio.run(model.chat(ask("hi", max_tokens=5)))  # other sampling params: a different entry
    assert inner.calls == 2 and model.stats.misses == 2


def test_temperature_above_zero_is_cached_only_with_a_seed(workspace: Workspace) -> None:
    inner = Counting()
    model = CachedModel(inner, workspace)
    for _ in range(2):
        asyncio.run(model.chat(ask("x", temperature=0.8)))
    assert inner.calls == 2 and model.stats.uncacheable == 2
    for _ in range(2):
        asyncio.run(model.chat(ask("x", temperature=0.8, seed=7)))
    assert inner.calls == 3 and model.stats.hits == 1


def test_lists_mix_hits_and_misses_in_order(workspace: Workspace) -> None:
    inner = Counting()
    model = CachedModel(inner, workspace)
    asyncio.run(model.generate(GenerateRequest(prompt="b")))
    out = asyncio.run(model.generate([GenerateRequest(prompt=p) for p in "abc"]))
    assert [o.text for o in out] == ["A", "B", "C"] and [o.cached for o in out] == [False, True, False]
    assert inner.calls == 3


def test_models_do_not_share_entries(workspace: Workspace) -> None:
    a, b = Counting("a"), Counting("b")
    asyncio.run(CachedModel(a, workspace).chat(ask("q")))
    asyncio.run(CachedModel(b, workspace).chat(ask("q")))
    assert a.calls == b.calls == 1


def test_a_killed_evaluation_resumes_where_it_stopped(workspace: Workspace) -> None:
    reqs = [LoglikelihoodRequest(f"context {i}", " x" * (i % 4)) for i in range(10)]
    dying = Counting(fail_after=4)
    with pytest.raises(RuntimeError, match="killed"):
        asyncio.run(CachedModel(dying, workspace, flush_every=4).loglikelihood(reqs))
    assert len(dying.scored) == 4  # the first chunk was scored and stored before the kill
    resumed = Counting()
    model = CachedModel(resumed, workspace, flush_every=4)
    results = asyncio.run(model.loglikelihood(reqs))
    assert resumed.scored == reqs[4:]
    assert [r.logprob for r in results] == [-float(len(r.continuation)) for r in reqs]
    rerun = CachedModel(Counting(), workspace)
    asyncio.run(rerun.loglikelihood(reqs))
    assert rerun.stats.misses == 0 and rerun.stats.hits == 10  # re-running makes zero new calls


def test_streams_are_stored_when_complete_and_replayed(workspace: Workspace) -> None:
    inner = Counting()
    model = CachedModel(inner, workspace)

    async def collect() -> list[ChatChunk]:
        return [c async for c in model.chat_stream(ask("s"))]

    first, second = asyncio.run(collect()), asyncio.run(collect())
    assert "".join(c.delta for c in first) == "".join(c.delta for c in second) == "stream"
    assert second[-1].finish_reason == "stop" and inner.calls == 1
    assert not any(c.cached for c in first) and all(c.cached for c in second)  # the replay says so
    assert second[-1].usage == first[-1].usage == Usage(output_tokens=2)


def test_a_stream_without_usage_is_replayed_without_usage(workspace: Workspace) -> None:
    """Zero tokens is not the same as unknown: the gateway counts unknown usage separately."""
    model = CachedModel(Counting(), workspace)

    async def collect() -> list[ChatChunk]:
        return [c async for c in model.chat_stream(ask("no usage, please"))]

    first, second = asyncio.run(collect()), asyncio.run(collect())
    assert first[-1].usage is None and second[-1].cached and second[-1].usage is None


def test_rows_carry_kind_and_fingerprint_and_clear_removes_them(workspace: Workspace) -> None:
    model = CachedModel(Counting(), workspace)
    asyncio.run(model.chat(ask("q")))
    asyncio.run(model.loglikelihood([LoglikelihoodRequest("a", " b")]))
    with workspace.read() as conn:
        rows = conn.execute(sa.select(llm_cache.c.kind, llm_cache.c.fingerprint)).all()
    assert sorted(rows) == [("chat", "test:counting"), ("loglikelihood", "test:counting")]
    assert model.clear() == 2


@pytest.mark.llm
def test_real_model_rerun_makes_zero_model_calls(workspace: Workspace, hf_model: Any) -> None:
    reqs = [LoglikelihoodRequest("The capital of France is", c) for c in (" Paris", " Rome")]
    first = asyncio.run(CachedModel(hf_model, workspace).loglikelihood(reqs))
    before = hf_model.forward_tokens
    model = CachedModel(hf_model, workspace)
    second = asyncio.run(model.loglikelihood(reqs))
    assert hf_model.forward_tokens == before and model.stats.misses == 0
    assert [r.logprob for r in second] == [r.logprob for r in first]


def test_chunks_never_split_the_choices_of_one_context(workspace: Workspace) -> None:
    batches: list[list[LoglikelihoodRequest]] = []

    class Recording(Counting):
        async def _loglikelihood_batch(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
            batches.append(requests)
            return await super()._loglikelihood_batch(requests)

    reqs = [LoglikelihoodRequest(f"question {q}", f" choice {c}") for q in range(3) for c in range(3)]
    asyncio.run(CachedModel(Recording(), workspace, flush_every=2).loglikelihood(reqs))
    assert [len(b) for b in batches] == [3, 3, 3]
    assert all(len({r.context for r in b}) == 1 for b in batches)
