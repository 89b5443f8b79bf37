"""Every failure answers in OpenAI's error shape with the right status, and is traced."""

from __future__ import annotations

from typing import Any

import pytest
from fake_openai_backend import FakeBackend
from gateway_harness import api, asgi_client, chat_body, run

from ondo.registry import models as registry
from ondo.server.app import create_app
from ondo.traces import list_spans
from ondo.workspace import Workspace


def _post(app: Any, path: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with asgi_client(app) as c:
            return await c.post(path, **kwargs)

    return run(go)


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return dict(body["error"])


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"content": b"{not json"}, None),
        ({"content": b"[1, 2]"}, None),
        ({"json": {"messages": [{"role": "user", "content": "x"}]}}, "model"),
        ({"json": {"model": "assistant@production"}}, "messages"),
        ({"json": {"model": "assistant@production", "messages": "hi"}}, "messages"),
        ({"json": {"model": "assistant@production", "messages": [{"content": "no role"}]}}, "messages[0]"),
        ({"json": chat_body(temperature="hot")}, None),
        ({"json": chat_body("bad name!")}, None),
    ],
)
def test_malformed_requests_are_400(workspace: Workspace, assistant: FakeBackend, payload: dict[str, Any],
                                    param: str | None) -> None:
    err = _error(_post(create_app(workspace), "/v1/chat/completions", **payload), 400)
    assert err["type"] == "invalid_request_error"
    if param is not None:
        assert err["param"] == param
    assert assistant.requests == 0  # nothing reached the backend


def test_unknown_models_are_404_with_suggestions(workspace: Workspace, assistant: FakeBackend) -> None:
    app = create_app(workspace)
    err = _error(_post(app, "/v1/chat/completions", json=chat_body("assistant@prod")), 404)
    assert err["code"] == "model_not_found" and "assistant@production" in err["message"]
    err = _error(_post(app, "/v1/chat/completions", json=chat_body("assistant/9")), 404)
    assert "assistant/9" in err["message"]
    err = _error(_post(app, "/v1/chat/completions", json=chat_body("nothing")), 404)
    assert err["code"] == "model_not_found"
    err = _error(_post(app, "/v1/chat/completions", json=chat_body("nosuchscheme:x")), 404)
    assert app.state.gateway.tracer.flush(30)
    failed = list_spans(workspace, status="error")
    assert len(failed) == 4 and all(s.error for s in failed)


def test_unknown_route_is_openai_style_404(workspace: Workspace) -> None:
    err = _error(_post(create_app(workspace), "/v1/nope", json={}), 404)
    assert err["code"] == "not_found"


def test_upstream_errors_map_to_gateway_statuses(workspace: Workspace, backend: FakeBackend) -> None:
    registry.register(workspace, "broken", api={**api(backend, "fail-500")})
    registry.register(workspace, "picky", api={**api(backend, "fail-400")})
    app = create_app(workspace)
    err = _error(_post(app, "/v1/chat/completions", json=chat_body("picky/1")), 400)
    assert "backend says 400" in err["message"] and err["code"] == "upstream_rejected"

    async def no_wait(seconds: float) -> None:
        return None

    gateway = app.state.gateway

    async def go() -> Any:
        # the provider retries a 5xx with backoff; keep the test fast
        model = await gateway.resolver.provider(gateway.resolver.resolve("broken/1"))
        model.max_retries, model._sleep = 1, no_wait
        async with asgi_client(app) as c:
            return await c.post("/v1/chat/completions", json=chat_body("broken/1"))

    err = _error(run(go), 502)
    assert err["type"] == "api_error" and err["code"] == "upstream_error"
    assert gateway.tracer.flush(30)
    spans = {s.served_by: s for s in list_spans(workspace)}
    assert spans["broken/1"].status == "error" and "500" in (spans["broken/1"].error or "")


def test_provider_credentials_never_reach_clients_or_traces(
    workspace: Workspace, backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-live-THIS-MUST-NOT-LEAK-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    registry.register(workspace, "picky", api=api(backend, "fail-400"))
    registry.register(workspace, "fine", api=api(backend, "m1"))
    app = create_app(workspace)

    async def go() -> list[Any]:
        async with asgi_client(app) as c:
            return [
                await c.post("/v1/chat/completions", json=chat_body("picky/1", content=f"my key is {secret}")),
                await c.post("/v1/chat/completions", json=chat_body("fine/1", content=f"echo {secret}")),
            ]

    bad, good = run(go)
    assert bad.status_code == 400 and good.status_code == 200
    assert app.state.gateway.tracer.flush(30)
    from ondo.store.tables.traces import spans

    with workspace.read() as conn:
        stored = " ".join(str(v) for row in conn.execute(spans.select()) for v in row)
    assert "my key is" in stored  # bodies are stored...
    assert secret not in stored  # ...but the provider's credential is scrubbed from them
    assert secret not in bad.text
