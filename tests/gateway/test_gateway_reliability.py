"""Reliability: a backend dying mid-stream, many concurrent requests, clients that go away."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest
from fake_openai_backend import FakeBackend
from gateway_harness import LiveServer, api, asgi_client, chat_body, run

from ondo.registry import models as registry
from ondo.server.app import create_app
from ondo.traces import count_spans, list_spans
from ondo.workspace import Workspace


@pytest.mark.timeout(120)
def test_backend_dies_mid_stream(workspace: Workspace, backend: FakeBackend) -> None:
    registry.register(workspace, "flaky", api=api(backend, "die-midstream"))
    app = create_app(workspace)
    with LiveServer(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)
        got: list[str] = []
        started = time.monotonic()
        with pytest.raises(openai.APIError) as info:
            stream = client.chat.completions.create(
                model="flaky/1", messages=[{"role": "user", "content": "one two three four"}], stream=True
            )
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
        assert time.monotonic() - started < 30  # an error, not a hang
        assert "".join(got) == "echo: one"  # what arrived before the cut was relayed
        assert "stream" in str(info.value).lower()
        # the server is still fine afterwards
        registry.register(workspace, "fine", api=api(backend, "m1"))
        ok = client.chat.completions.create(model="fine/1", messages=[{"role": "user", "content": "x"}])
        assert ok.choices[0].message.content == "echo: x"
    assert app.state.gateway.tracer.flush(30)
    [span] = list_spans(workspace, model="flaky", bodies=True)
    assert span.status == "error" and "stream" in (span.error or "")
    assert span.output == "echo: one" and span.ttft_ms is not None


@pytest.mark.timeout(120)
def test_backend_dies_before_answering(workspace: Workspace, backend: FakeBackend) -> None:
    registry.register(workspace, "gone", api={**api(backend, "m1"), "base_url": backend.url})
    app = create_app(workspace)
    backend.stop()  # nothing listens any more

    async def go() -> Any:
        gateway = app.state.gateway
        model = await gateway.resolver.provider(gateway.resolver.resolve("gone/1"))

        async def no_wait(seconds: float) -> None:
            return None

        model.max_retries, model._sleep = 1, no_wait
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body("gone/1", stream=True))

    r = run(go)
    assert r.status_code == 502 and r.json()["error"]["type"] == "api_error"


@pytest.mark.timeout(300)
def test_1000_concurrent_requests_store_1000_spans(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)
    n = 1000

    async def go() -> list[int]:
        async with asgi_client(app, limits=httpx.Limits(max_connections=n)) as c:
            async def one(i: int) -> int:
                stream = i % 4 == 0
                r = await c.post("/v1/chat/completions", json=chat_body(content=f"q{i}", stream=stream))
                await r.aread()
                return r.status_code

            return list(await asyncio.gather(*(one(i) for i in range(n))))

    statuses = run(go)
    assert statuses == [200] * n
    assert assistant.requests == n
    assert app.state.gateway.tracer.flush(60)
    assert count_spans(workspace) == n
    assert count_spans(workspace, status="ok") == n
    outputs = {s.output for s in list_spans(workspace, limit=n, bodies=True)}
    assert len(outputs) == n  # each request's own answer, none lost or duplicated


@pytest.mark.timeout(120)
def test_client_disconnect_mid_stream_is_recorded(workspace: Workspace, backend: FakeBackend) -> None:
    registry.register(workspace, "slowish", api=api(backend, "m1"))
    app = create_app(workspace)
    with LiveServer(app) as url:
        with httpx.Client(base_url=url, timeout=30) as c, c.stream(
            "POST", "/v1/chat/completions", json=chat_body("slowish/1", content="a b c d e f", stream=True)
        ) as r:
            first = next(r.iter_lines())
            assert first.startswith("data: ")
        # the gateway keeps serving
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.post("/v1/chat/completions", json=chat_body("slowish/1")).status_code == 200
    assert app.state.gateway.tracer.flush(30)
    assert count_spans(workspace) == 2
