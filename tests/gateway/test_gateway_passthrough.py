"""The fast path and the secret registry read providers through their public API only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from ondo.gateway import passthrough
from ondo.gateway.resolve import Resolver
from ondo.llm import OpenAICompatModel
from ondo.llm.routing import DefaultParamsModel, RoutedModel
from ondo.traces.redaction import scrub
from ondo.workspace import Workspace


def _key() -> str:
    return "sk-test-" + uuid.uuid4().hex  # unique: the secret registry is process-wide


def test_credentials_travel_through_wrappers() -> None:
    key = _key()
    http = OpenAICompatModel("http://127.0.0.1:9/v1", "m", api_key=key, api_key_env=None)
    assert http.credentials() == (key,)
    assert OpenAICompatModel("http://127.0.0.1:9/v1", "m", api_key_env=None).credentials() == ()
    wrapped = DefaultParamsModel(http, {"temperature": 0.1})
    assert wrapped.credentials() == (key,)
    assert RoutedModel("r", None, wrapped).credentials() == (key,)


@pytest.mark.skipif(not passthrough.available(), reason="httptools is not installed")
def test_fast_route_uses_the_providers_public_headers_and_defaults() -> None:
    key = _key()
    http = OpenAICompatModel("http://127.0.0.1:9/prefix/v1", "upstream-id", api_key=key, api_key_env=None,
                             headers={"X-Org": "acme"}, timeout=7.0)
    model = DefaultParamsModel(http, {"temperature": 0.2, "max_tokens": 5}, system_prompt="be brief")
    route = passthrough.route_for(model, limit=4)
    assert route is not None
    assert route.model_id == "upstream-id" and route.base_path == "/prefix/v1" and route.timeout == 7.0
    assert route.host_header == "127.0.0.1:9"
    head = route.headers.decode()
    assert f"Authorization: Bearer {key}\r\n" in head and "X-Org: acme\r\n" in head
    assert head == "".join(f"{k}: {v}\r\n" for k, v in http.request_headers().items())
    body = passthrough.parse(route.body({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9},
                                        chat=True))
    assert body["model"] == "upstream-id" and body["temperature"] == 0.2 and body["max_tokens"] == 9
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    # anything that is not an OpenAI-compatible provider takes the provider path
    assert passthrough.route_for(RoutedModel("r", None, http), limit=4) is None


def test_resolver_registers_the_loaded_providers_credentials(workspace: Workspace,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    resolver = Resolver(workspace)
    target = resolver.resolve("http://127.0.0.1:9/v1#m")

    async def load() -> Any:
        try:
            return await resolver.provider(target)
        finally:
            await resolver.aclose()

    model = asyncio.run(load())
    assert key in model.credentials()
    assert key not in scrub(f"upstream said: bad key {key}")
