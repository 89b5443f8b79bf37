"""The OpenAI-compatible routes: answers name the version that answered, aliases move live,
raw provider models, streaming, completions, embeddings, model listing, metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import openai
import pytest
from fake_openai_backend import FakeBackend
from gateway_harness import api, asgi_client, chat_body, run

from ondo.gateway.config import GatewayConfig
from ondo.registry import models as registry
from ondo.server.app import create_app
from ondo.traces import list_spans
from ondo.workspace import Workspace


def _flush(app: Any) -> None:
    assert app.state.gateway.tracer.flush(30)


def test_chat_names_the_version_that_answered(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body(content="hello"))

    r = run(go)
    assert r.status_code == 200, r.text
    assert r.headers["x-ondo-model-version"] == "assistant/1"
    data = r.json()
    assert data["model"] == "assistant/1"
    assert data["choices"][0]["message"]["content"] == "echo: hello"
    assert data["usage"]["prompt_tokens"] == 10
    assert assistant.seen_models == ["m1"]  # version 1's backend model was called


def test_alias_move_takes_effect_on_the_next_request(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> list[str]:
        served = []
        async with asgi_client(app) as c:
            for target in (None, 2, None, 1):
                if target is not None:
                    registry.set_alias(workspace, "assistant", "production", target)
                r = await c.post("/v1/chat/completions", json=chat_body())
                served.append(r.headers["x-ondo-model-version"])
        return served

    assert run(go) == ["assistant/1", "assistant/2", "assistant/2", "assistant/1"]
    assert assistant.seen_models == ["m1", "m2", "m2", "m1"]


def test_alias_moved_by_another_process_is_seen_next_request(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)
    mover = (
        "from ondo.workspace import Workspace\n"
        "from ondo.registry import models\n"
        "models.set_alias(Workspace.default(), 'assistant', 'production', 2, reason='cross-process')\n"
    )

    async def go() -> list[str]:
        served = []
        async with asgi_client(app) as c:
            r = await c.post("/v1/chat/completions", json=chat_body())
            served.append(r.headers["x-ondo-model-version"])
            subprocess.run([sys.executable, "-c", mover], check=True, env=dict(os.environ))
            r = await c.post("/v1/chat/completions", json=chat_body())
            served.append(r.headers["x-ondo-model-version"])
            registry.rollback(workspace, "assistant", "production")
            r = await c.post("/v1/chat/completions", json=chat_body())
            served.append(r.headers["x-ondo-model-version"])
        return served

    assert run(go) == ["assistant/1", "assistant/2", "assistant/1"]


def test_version_and_alias_share_one_provider_instance(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> None:
        async with asgi_client(app) as c:
            for model in ("assistant@production", "assistant/1", "assistant@v1", "assistant/2"):
                r = await c.post("/v1/chat/completions", json=chat_body(model))
                assert r.status_code == 200, r.text

    run(go)
    loaded = app.state.gateway.resolver.loaded()
    assert len(loaded) == 2 and all(k.startswith(("assistant/1:", "assistant/2:")) for k in loaded)


def test_raw_provider_model(workspace: Workspace, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", backend.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000")
    app = create_app(workspace)

    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body("openai:gpt-4o-mini"))

    r = run(go)
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "openai:gpt-4o-mini"
    assert r.headers["x-ondo-model-version"] == "openai:gpt-4o-mini"
    assert backend.seen_models == ["gpt-4o-mini"]
    _flush(app)
    [span] = list_spans(workspace, model="openai:gpt-4o-mini")
    assert span.provider == "openai" and span.model_version is None and span.input_tokens == 10


def test_streaming_relays_chunks_and_records_ttft(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post(
                "/v1/chat/completions",
                json=chat_body(content="one two three", stream=True, stream_options={"include_usage": True}),
            )

    r = run(go)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-ondo-model-version"] == "assistant/1"
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "echo: one two three"
    assert all(c["model"] == "assistant/1" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    _flush(app)
    [span] = list_spans(workspace, bodies=True)
    assert span.status == "ok" and span.ttft_ms is not None and span.ttft_ms <= span.latency_ms
    assert span.output == "echo: one two three"
    assert span.output_tokens == 4


def test_completions_and_embeddings(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> tuple[Any, Any, Any]:
        async with asgi_client(app) as c:
            comp = await c.post("/v1/completions", json={"model": "assistant/2", "prompt": "hello", "max_tokens": 3})
            emb = await c.post("/v1/embeddings", json={"model": "assistant@production", "input": ["ab", "abc"]})
            bad = await c.post("/v1/embeddings", json={"model": "assistant@production", "input": [1, 2]})
            return comp, emb, bad

    comp, emb, bad = run(go)
    assert comp.status_code == 200, comp.text
    assert comp.json()["choices"][0]["text"] == " world" and comp.json()["model"] == "assistant/2"
    assert emb.status_code == 200, emb.text
    body = emb.json()
    assert body["model"] == "assistant/1"
    assert [d["embedding"][0] for d in body["data"]] == [2.0, 3.0]
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"


def test_models_health_and_metrics(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> tuple[Any, Any, str]:
        async with asgi_client(app) as c:
            await c.post("/v1/chat/completions", json=chat_body())
            await c.post("/v1/chat/completions", json=chat_body("nope@production"))
            models = await c.get("/v1/models")
            health = await c.get("/healthz")
            metrics = await c.get("/metrics")
            return models, health, metrics.text

    models, health, metrics = run(go)
    ids = [m["id"] for m in models.json()["data"]]
    assert {"assistant@production", "assistant/1", "assistant/2"} <= set(ids)
    assert health.json() == {"status": "ok"}
    assert ('ondo_gateway_requests_total{alias="production",endpoint="/v1/chat/completions",model="assistant",'
            'status="200",version="1"} 1.0') in metrics
    assert 'ondo_gateway_tokens_total{alias="production",model="assistant",type="output",version="1"} 5.0' in metrics
    assert "ondo_gateway_request_duration_seconds_bucket" in metrics
    assert 'status="404"' in metrics and 'ondo_gateway_errors_total' in metrics


def test_two_apps_keep_separate_metrics(workspace: Workspace, assistant: FakeBackend) -> None:
    a, b = create_app(workspace), create_app(workspace)

    async def go() -> str:
        async with asgi_client(a) as c:
            await c.post("/v1/chat/completions", json=chat_body())
        async with asgi_client(b) as c:
            return (await c.get("/metrics")).text

    assert "ondo_gateway_requests_total{" not in run(go)


def test_fallback_to_another_version(workspace: Workspace, assistant: FakeBackend) -> None:
    registry.register(workspace, "assistant", api=api(assistant, "fail-500"))  # version 3 is broken
    registry.set_alias(workspace, "assistant", "production", 3)
    cfg = GatewayConfig.parse({"routes": {"assistant@production": {"fallbacks": ["assistant/2"]}}})
    app = create_app(workspace, config=cfg)
    app.state.gateway.resolver._models.clear()

    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body())

    r = run(go)
    assert r.status_code == 200, r.text
    assert r.headers["x-ondo-model-version"] == "assistant/2"
    _flush(app)
    [span] = list_spans(workspace)
    assert span.served_by == "assistant/2" and span.attributes["ondo.fallback_from"] == ["assistant@production"]


def test_canary_split_by_weight_and_sticky_per_user(workspace: Workspace, assistant: FakeBackend) -> None:
    registry.set_alias(workspace, "assistant", "canary", 2)
    cfg = GatewayConfig.parse({"routes": {"assistant@production": {"split": [
        {"model": "assistant@production", "weight": 80}, {"model": "assistant@canary", "weight": 20}]}}})
    app = create_app(workspace, config=cfg)
    app.state.gateway.resolver._rng.seed(7)

    async def go() -> tuple[list[str], set[str]]:
        served, sticky = [], set()
        async with asgi_client(app) as c:
            for _ in range(200):
                r = await c.post("/v1/chat/completions", json=chat_body())
                served.append(r.headers["x-ondo-model-version"])
            for _ in range(20):
                r = await c.post("/v1/chat/completions", json=chat_body(user="user-42"))
                sticky.add(r.headers["x-ondo-model-version"])
        return served, sticky

    served, sticky = run(go)
    canary = served.count("assistant/2")
    assert 20 <= canary <= 65, canary  # 20% of 200 = 40, far from both 0 and 100%
    assert served.count("assistant/1") == 200 - canary
    assert len(sticky) == 1


def test_official_openai_client(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> tuple[Any, list[Any], Any]:
        async with asgi_client(app) as http:
            client = openai.AsyncOpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused", http_client=http)
            chat = await client.chat.completions.create(
                model="assistant@production", messages=[{"role": "user", "content": "hey"}]
            )
            stream = await client.chat.completions.create(
                model="assistant/2", messages=[{"role": "user", "content": "a b"}], stream=True
            )
            chunks = [c async for c in stream]
            emb = await client.embeddings.create(model="assistant/1", input=["xyz"])  # base64 on the wire
            return chat, chunks, emb

    chat, chunks, emb = run(go)
    assert chat.model == "assistant/1" and chat.choices[0].message.content == "echo: hey"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: a b"
    assert emb.data[0].embedding == [3.0, 0.5, -0.25, 0.0]


@pytest.mark.parametrize("passthrough", [True, False])
def test_fast_and_typed_paths_answer_alike(workspace: Workspace, backend: FakeBackend, passthrough: bool) -> None:
    """The pooled passthrough and the typed ondo.llm path give the same answers and apply the
    version's registered defaults (params, system prompt) the same way."""
    registry.register(workspace, "tuned", api={**api(backend, "m9"), "params": {"temperature": 0.1, "max_tokens": 7},
                                               "system_prompt": "Be brief."})
    app = create_app(workspace, config=GatewayConfig(passthrough=passthrough))

    async def go() -> tuple[Any, Any, Any]:
        async with asgi_client(app) as c:
            chat = await c.post("/v1/chat/completions", json=chat_body("tuned/1", content="q", max_tokens=3))
            comp = await c.post("/v1/completions", json={"model": "tuned/1", "prompt": "p"})
            emb = await c.post("/v1/embeddings", json={"model": "tuned/1", "input": "abcd"})
            return chat, comp, emb

    chat, comp, emb = run(go)
    assert chat.status_code == comp.status_code == emb.status_code == 200, (chat.text, comp.text, emb.text)
    assert chat.json()["model"] == comp.json()["model"] == emb.json()["model"] == "tuned/1"
    assert chat.json()["choices"][0]["message"]["content"] == "echo: q"
    assert comp.json()["choices"][0]["text"] == " world"
    assert emb.json()["data"][0]["embedding"] == [4.0, 0.5, -0.25, 0.0]
    sent = backend.seen_bodies[0]
    assert sent["model"] == "m9" and sent["max_tokens"] == 3  # the client's own value wins
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert backend.seen_bodies[1]["max_tokens"] == 7  # the version's default fills the gap
    assert app.state.gateway.tracer.flush(30)
    spans = list_spans(workspace, bodies=True)
    assert {s.name for s in spans} == {"chat", "text_completion", "embeddings"}
    assert all(s.served_by == "tuned/1" and s.status == "ok" and s.input_tokens for s in spans)


def test_retryable_upstream_status_goes_through_the_provider_retries(
    workspace: Workspace, backend: FakeBackend
) -> None:
    registry.register(workspace, "busy", api=api(backend, "fail-429"))
    app = create_app(workspace)
    gateway = app.state.gateway

    async def no_wait(seconds: float) -> None:
        return None

    async def go() -> Any:
        model = await gateway.resolver.provider(gateway.resolver.resolve("busy/1"))
        model.max_retries, model._sleep = 2, no_wait
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body("busy/1"))

    r = run(go)
    assert r.status_code == 429 and r.json()["error"]["code"] == "upstream_rate_limited"
    assert backend.requests == 1 + 3  # the fast attempt, then the provider's first try and 2 retries


def test_gateway_redacts_bodies_before_storing(workspace: Workspace, assistant: FakeBackend) -> None:
    cfg = GatewayConfig(redact=["email", "phone"], redact_regex=[r"ORDER-\d+"])
    app = create_app(workspace, config=cfg)

    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions",
                                json=chat_body(content="I am kim@example.com, 010-1234-5678, ORDER-991"))

    r = run(go)
    assert r.status_code == 200
    assert "kim@example.com" in r.text  # the client gets the real answer...
    assert app.state.gateway.tracer.flush(30)
    [span] = list_spans(workspace, bodies=True)
    stored = json.dumps([span.input, span.output])
    assert "kim@example.com" not in stored and "1234-5678" not in stored and "ORDER-991" not in stored
    assert "[REDACTED_EMAIL]" in stored and "[REDACTED_PHONE]" in stored and "[REDACTED]" in stored


def test_bodies_are_not_stored_when_turned_off(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace, config=GatewayConfig(trace_bodies=False))

    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body(content="private"))

    assert run(go).status_code == 200
    assert app.state.gateway.tracer.flush(30)
    [span] = list_spans(workspace, bodies=True)
    assert span.input is None and span.output is None and span.input_tokens == 10


def test_prompt_version_header_is_recorded_on_the_span(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)

    async def go() -> list[Any]:
        async with asgi_client(app) as c:
            return [await c.post("/v1/chat/completions", json=chat_body(),
                                 headers={"x-ondo-prompt-version": "summarize/3"}),
                    await c.post("/v1/chat/completions", json=chat_body(),
                                 headers={"x-ondo-prompt-version": "bad name!"})]

    good, bad = run(go)
    assert good.status_code == 200
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-ondo-prompt-version"
    _flush(app)
    spans = {s.status: s for s in list_spans(workspace)}
    assert spans["ok"].prompt_version == "summarize/3" and spans["ok"].served_by == "assistant/1"
    assert spans["error"].prompt_version is None
