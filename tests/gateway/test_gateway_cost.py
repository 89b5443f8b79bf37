"""Cost in spans and /metrics: priced models add to the cost counter; a model with no price has an
unknown cost (empty on the span, counted as unpriced), never a recorded 0."""

from __future__ import annotations

from typing import Any

import pytest
from fake_openai_backend import FakeBackend
from gateway_harness import asgi_client, chat_body, run

from ondo.llm.cost import price_for
from ondo.llm.types import Usage
from ondo.registry import models as registry
from ondo.server.app import create_app
from ondo.traces import list_spans
from ondo.workspace import Workspace


def test_priced_and_unpriced_models(workspace: Workspace, backend: FakeBackend,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", backend.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    # a self-hosted model nobody priced (the backend answers as "house-model")
    registry.register(workspace, "house", api={"provider": "openai-compatible", "model": "house-model",
                                               "base_url": backend.url})
    app = create_app(workspace)

    async def go() -> tuple[list[Any], str]:
        async with asgi_client(app) as c:
            answers = [await c.post("/v1/chat/completions", json=chat_body("openai:gpt-4o-mini")),
                       await c.post("/v1/chat/completions", json=chat_body("house/1"))]
            return answers, (await c.get("/metrics")).text

    answers, metrics = run(go)
    assert [a.status_code for a in answers] == [200, 200]
    price = price_for("openai", "gpt-4o-mini")
    assert price is not None
    expected = price.cost(Usage(input_tokens=10, output_tokens=5))  # the fake backend's usage
    assert expected > 0
    assert app.state.gateway.tracer.flush(30)
    spans = {s.served_by: s for s in list_spans(workspace)}
    assert spans["openai:gpt-4o-mini"].cost_usd == pytest.approx(expected)
    unpriced = spans["house/1"]
    assert unpriced.status == "ok" and unpriced.cost_usd is None  # unknown, not free
    assert unpriced.attributes.get("ondo.cost_unknown") is True
    assert "ondo.cost_unknown" not in spans["openai:gpt-4o-mini"].attributes

    assert f'ondo_gateway_cost_usd_total{{alias="",model="openai:gpt-4o-mini",version=""}} {expected!r}' in metrics
    assert 'ondo_gateway_unpriced_requests_total{alias="",model="house",version="1"} 1.0' in metrics
    assert 'ondo_gateway_cost_usd_total{alias="",model="house"' not in metrics
    assert 'ondo_gateway_unpriced_requests_total{alias="",model="openai:gpt-4o-mini"' not in metrics


def test_a_stream_without_token_counts_is_of_unknown_cost_but_not_unpriced(
    workspace: Workspace, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Servers that ignore stream_options.include_usage end a stream without usage: the cost of that
    answer is unknown, yet the model has a price, so it is not counted among unpriced requests."""
    monkeypatch.setenv("OPENAI_BASE_URL", backend.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    backend.stream_usage = False
    app = create_app(workspace)

    async def go() -> tuple[Any, str]:
        async with asgi_client(app) as c:
            answer = await c.post("/v1/chat/completions", json={**chat_body("openai:gpt-4o-mini"), "stream": True})
            return answer, (await c.get("/metrics")).text

    answer, metrics = run(go)
    assert answer.status_code == 200 and "data: [DONE]" in answer.text
    assert app.state.gateway.tracer.flush(30)
    [span] = list_spans(workspace)
    assert span.status == "ok" and span.cost_usd is None
    assert span.attributes.get("ondo.cost_unknown") is True
    assert 'ondo_gateway_unpriced_requests_total{alias="",model="openai:gpt-4o-mini"' not in metrics


def test_request_cache_answers_repeats_for_free(workspace: Workspace, backend: FakeBackend,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from ondo.gateway.config import GatewayConfig

    monkeypatch.setenv("OPENAI_BASE_URL", backend.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    app = create_app(workspace, config=GatewayConfig(cache=True))
    greedy = chat_body("openai:gpt-4o-mini", content="same question", temperature=0)
    sampled = chat_body("openai:gpt-4o-mini", content="same question", temperature=0.7)  # no seed: never cached
    streamed = {**greedy, "stream": True, "stream_options": {"include_usage": True}}

    async def go() -> list[Any]:
        async with asgi_client(app) as c:
            return [await c.post("/v1/chat/completions", json=body)
                    for body in (greedy, greedy, sampled, sampled, streamed)]

    first, second, s1, s2, stream = run(go)
    assert all(r.status_code == 200 for r in (first, second, s1, s2, stream))
    assert backend.requests == 3  # the repeat and the stream of the same greedy request came from the store
    assert second.json()["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    assert second.headers["x-ondo-cache"] == "hit" and "x-ondo-cache" not in first.headers
    assert second.headers["x-ondo-model-version"] == "openai:gpt-4o-mini"
    events = [json.loads(line[6:]) for line in stream.text.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == \
        first.json()["choices"][0]["message"]["content"]
    assert app.state.gateway.tracer.flush(30)
    spans = sorted(list_spans(workspace), key=lambda s: s.start_time)
    assert [s.attributes.get("ondo.cache_hit", False) for s in spans] == [False, True, False, False, True]
    assert spans[0].cost_usd is not None and spans[0].cost_usd > 0
    assert spans[1].cost_usd == 0.0 and spans[4].cost_usd == 0.0
    assert spans[1].input_tokens == spans[0].input_tokens  # the stored answer's usage is still reported
