"""The OpenAI-compatible provider, network-free through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from ondo.errors import UnsupportedOperation
from ondo.llm import load_model
from ondo.llm.openai_compat import OpenAICompatModel
from ondo.llm.provider import ProviderError
from ondo.llm.types import ChatMessage, ChatRequest, GenerateRequest, LoglikelihoodRequest

KEY = "sk-test-SECRET-0123456789"


def chat_reply(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "model": "m-2024-01-01",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
                      "prompt_tokens_details": {"cached_tokens": 4}}, **extra}


class Recorder:
    """A mock server: answers from a script of (status, body, headers) and records requests."""

    def __init__(self, *script: tuple[int, Any, dict[str, str]]) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body, headers = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(body, Exception):
            raise body
        return httpx.Response(status, json=body, headers=headers)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def make(handler: Any, **kw: Any) -> tuple[OpenAICompatModel, list[float]]:
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)

    model = OpenAICompatModel("http://upstream.test/v1", "m", api_key=KEY, transport=httpx.MockTransport(handler),
                              sleep=fake_sleep, **kw)
    return model, slept


def ask(text: str = "hi", **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **kw)


def test_chat_sends_openai_body_and_normalises_the_answer() -> None:
    rec = Recorder((200, chat_reply(), {}))
    model, _ = make(rec)
    resp = asyncio.run(model.chat(ask(max_tokens=5, stop=["\n"], seed=1, json_schema={"type": "object"})))
    assert resp.text == "hello" and resp.finish_reason == "stop" and resp.model == "m-2024-01-01"
    assert (resp.usage.input_tokens, resp.usage.cached_input_tokens, resp.usage.output_tokens) == (9, 4, 2)
    body = rec.bodies()[0]
    assert body["model"] == "m" and body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["max_tokens"] == 5 and body["stop"] == ["\n"] and body["seed"] == 1 and body["temperature"] == 0.0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert rec.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert str(rec.requests[0].url) == "http://upstream.test/v1/chat/completions"


def test_retries_429_honouring_retry_after_then_succeeds() -> None:
    rec = Recorder((429, {"error": {"message": "slow down"}}, {"retry-after": "7"}),
                   (503, {"error": {"message": "busy"}}, {"retry-after-ms": "250"}),
                   (200, chat_reply("ok"), {}))
    model, slept = make(rec)
    assert asyncio.run(model.chat(ask())).text == "ok"
    assert slept == [7.0, 0.25]
    assert len(rec.requests) == 3


def test_backoff_is_exponential_with_jitter_on_5xx_and_timeouts() -> None:
    rec = Recorder((500, {}, {}), (200, {}, {}))
    rec.script = [(500, {}, {}), (0, httpx.ReadTimeout("slow"), {}), (502, {}, {}), (200, chat_reply("ok"), {})]
    model, slept = make(rec, backoff_base=1.0, backoff_max=100.0)
    assert asyncio.run(model.chat(ask())).text == "ok"
    assert len(slept) == 3
    for attempt, s in enumerate(slept):  # equal jitter: [cap/2, cap]
        cap = 2.0**attempt
        assert cap / 2 <= s <= cap


def test_gives_up_after_max_retries_with_status_and_no_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder((503, {"error": {"message": f"backend down; your key {KEY} was fine"}}, {}))
    model, slept = make(rec, max_retries=2)
    with pytest.raises(ProviderError) as err:
        asyncio.run(model.chat(ask()))
    assert err.value.status_code == 503 and "after 3 attempts" in str(err.value)
    assert KEY not in str(err.value) and "***" in str(err.value)
    assert len(rec.requests) == 3 and len(slept) == 2
    assert KEY not in caplog.text
    assert KEY not in repr(model) and KEY not in repr(model._key) and KEY not in model.fingerprint


def test_client_errors_are_not_retried() -> None:
    rec = Recorder((400, {"error": {"message": "bad request: messages missing"}}, {}))
    model, slept = make(rec)
    with pytest.raises(ProviderError, match="HTTP 400: bad request") as err:
        asyncio.run(model.chat(ask()))
    assert err.value.status_code == 400 and slept == [] and len(rec.requests) == 1


def test_connection_errors_exhaust_retries() -> None:
    rec = Recorder((0, httpx.ConnectError("refused"), {}))
    model, _ = make(rec, max_retries=1)
    with pytest.raises(ProviderError, match="ConnectError after 2 attempts"):
        asyncio.run(model.chat(ask()))


def test_concurrency_limit_bounds_requests_in_flight() -> None:
    state = {"now": 0, "peak": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1
        return httpx.Response(200, json=chat_reply())

    model = OpenAICompatModel("http://upstream.test/v1", "m", api_key=KEY, max_concurrency=3,
                              transport=httpx.MockTransport(handler))
    answers = asyncio.run(model.chat([ask(str(i)) for i in range(20)]))
    assert len(answers) == 20 and state["peak"] == 3


def test_concurrency_limit_counts_streams_until_they_end() -> None:
    """A stream keeps the upstream busy until its last event, not just until its headers: the
    third stream may start only once one of the first two has been read to its end."""
    log: list[int] = []  # +1 when the upstream takes a request, -1 when a caller has read a stream to its end
    event = {"model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    last = {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

    async def handler(request: httpx.Request) -> httpx.Response:
        log.append(+1)

        async def body() -> Any:
            yield f"data: {json.dumps(event)}\n\n".encode()
            await asyncio.sleep(0.02)  # the model is still writing
            yield f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode()

        return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    model = OpenAICompatModel("http://upstream.test/v1", "m", api_key=KEY, max_concurrency=2,
                              transport=httpx.MockTransport(handler))

    async def one(i: int) -> str:
        text = "".join([c.delta async for c in model.chat_stream(ask(str(i)))])
        log.append(-1)
        return text

    async def run() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(6)))

    assert asyncio.run(run()) == ["hi"] * 6
    in_flight = [sum(log[: i + 1]) for i in range(len(log))]
    assert max(in_flight) == 2 and in_flight[-1] == 0


def _slow_stream_model(max_concurrency: int, log: list[int] | None = None) -> OpenAICompatModel:
    event = {"model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    last = {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

    async def handler(request: httpx.Request) -> httpx.Response:
        if log is not None:
            log.append(+1)

        async def body() -> Any:
            yield f"data: {json.dumps(event)}\n\n".encode()
            await asyncio.sleep(0.01)
            yield f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode()

        return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    return OpenAICompatModel("http://upstream.test/v1", "m", api_key=KEY, max_concurrency=max_concurrency,
                             transport=httpx.MockTransport(handler))


def test_a_streams_place_goes_back_to_the_limit_it_was_taken_from() -> None:
    """The gateway may close a model (dropping its client and limit) while one of its streams is
    still being read; the stream's place must not then inflate the new limit."""
    log: list[int] = []
    model = _slow_stream_model(1, log)

    async def one() -> None:
        async for _ in model.chat_stream(ask()):
            pass
        log.append(-1)

    async def run() -> None:
        stream = model.chat_stream(ask())
        await stream.__anext__()
        await model.aclose()  # a new client and limit come with the next call
        async for _ in stream:
            pass
        log.clear()
        await asyncio.gather(*(one() for _ in range(3)))

    asyncio.run(run())
    in_flight = [sum(log[: i + 1]) for i in range(len(log))]
    assert max(in_flight) == 1


def test_closing_a_wrapped_stream_gives_its_place_back_at_once() -> None:
    from ondo.llm.provider import DelegatingModel

    model = _slow_stream_model(1)
    wrapped = DelegatingModel(model)

    async def run() -> bool:
        stream = wrapped.chat_stream(ask())
        await stream.__anext__()
        await stream.aclose()  # abandoned midway
        return model._state()[1].locked()

    assert asyncio.run(run()) is False


def sse(*events: Any, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(e)}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def test_streaming_yields_deltas_and_final_usage() -> None:
    def delta(text: str | None, finish: str | None = None) -> dict[str, Any]:
        d = {"content": text} if text is not None else {}
        return {"model": "m", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}

    payload = sse(delta("Hel"), delta("lo"), delta(None, "stop"),
                  {"model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, content=payload, headers={"content-type": "text/event-stream"})

    model, _ = make(handler)

    async def collect() -> list[Any]:
        return [c async for c in model.chat_stream(ask())]

    chunks = asyncio.run(collect())
    assert "".join(c.delta for c in chunks) == "Hello"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage.output_tokens == 2
    assert seen[0]["stream"] is True and seen[0]["stream_options"] == {"include_usage": True}


def test_stream_cut_off_midway_raises_instead_of_hanging() -> None:
    payload = sse({"model": "m", "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
                  done=False)
    model, _ = make(lambda r: httpx.Response(200, content=payload))

    async def collect() -> list[Any]:
        return [c async for c in model.chat_stream(ask())]

    with pytest.raises(ProviderError, match="stream ended"):
        asyncio.run(collect())


def vllm_echo(prompt_tokens: list[str], logprobs: list[float | None], tops: list[dict[str, float] | None]
              ) -> dict[str, Any]:
    offsets, pos = [], 0
    for t in prompt_tokens:
        offsets.append(pos)
        pos += len(t)
    gen = "X"
    return {"model": "m", "choices": [{"index": 0, "text": "".join(prompt_tokens) + gen, "finish_reason": "length",
            "logprobs": {"tokens": [*prompt_tokens, gen], "token_logprobs": [*logprobs, -0.1],
                         "text_offset": [*offsets, pos], "top_logprobs": [*tops, {gen: -0.1}]}}],
            "usage": {"prompt_tokens": len(prompt_tokens), "completion_tokens": 1}}


def test_loglikelihood_from_echoed_prompt_logprobs() -> None:
    tokens = ["The", " capital", " is", " Par", "is"]
    lps = [None, -2.0, -1.0, -0.5, -0.25]
    tops = [None, {" capital": -2.0}, {" is": -1.0}, {" Par": -0.5}, {"is": -0.25}]
    rec = Recorder((200, vllm_echo(tokens, lps, tops), {}))
    model, _ = make(rec)
    [res] = asyncio.run(model.loglikelihood([LoglikelihoodRequest("The capital is ", "Paris")]))
    # trailing space moved: context "The capital is", continuation " Paris" = tokens " Par" + "is"
    assert res.token_logprobs == [-0.5, -0.25] and res.logprob == -0.75 and res.n_tokens == 2 and res.is_greedy
    body = rec.bodies()[0]
    assert body["echo"] is True and body["logprobs"] == 1 and body["prompt"] == "The capital is Paris"


def test_loglikelihood_not_greedy_and_straddling_token() -> None:
    tokens = ["Answer", ":B", "ad"]  # ":B" straddles the context/continuation boundary
    tops = [None, {":A": -0.1}, {"ad": -0.2}]
    rec = Recorder((200, vllm_echo(tokens, [None, -3.0, -0.2], tops), {}))
    model, _ = make(rec)
    [res] = asyncio.run(model.loglikelihood([LoglikelihoodRequest("Answer:", "Bad")]))
    assert res.token_logprobs == [-3.0, -0.2] and not res.is_greedy


def test_loglikelihood_unsupported_by_openai_and_by_servers_without_echo() -> None:
    hosted = OpenAICompatModel("https://api.openai.com/v1", "gpt-4o-mini", api_key=KEY)
    assert "loglikelihood" not in hosted.capabilities
    with pytest.raises(UnsupportedOperation, match=r"does not support loglikelihood.*generate_until"):
        asyncio.run(hosted.loglikelihood([LoglikelihoodRequest("a", " b")]))
    rec = Recorder((400, {"error": {"message": "echo is not supported"}}, {}))
    model, _ = make(rec)
    with pytest.raises(UnsupportedOperation, match="echo"):
        asyncio.run(model.loglikelihood([LoglikelihoodRequest("a", " b")]))
    assert "loglikelihood" not in model.capabilities  # remembered


def test_generate_and_embeddings() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.endswith("/completions") and "prompt" in body:
            return httpx.Response(200, json={"model": "m", "choices": [{"text": " world", "finish_reason": "length"}],
                                             "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
        assert request.url.path.endswith("/embeddings")
        data = [{"index": i, "embedding": [float(i), 1.0]} for i in reversed(range(len(body["input"])))]
        return httpx.Response(200, json={"model": "e", "data": data, "usage": {"prompt_tokens": 4}})

    model, _ = make(handler)
    resp = asyncio.run(model.generate(GenerateRequest(prompt="hello", max_tokens=1)))
    assert resp.text == " world" and resp.finish_reason == "length"
    emb = asyncio.run(model.embed(["a", "b", "c"]))
    assert emb.vectors == [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]] and emb.usage.input_tokens == 4


def test_api_key_from_environment_never_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    model = load_model("openai:gpt-4o-mini")
    assert isinstance(model, OpenAICompatModel)
    assert model.request_headers()["Authorization"] == f"Bearer {KEY}"
    for text in (repr(model), str(model), model.fingerprint, repr(vars(model))):
        assert KEY not in text
    assert model.fingerprint == "openai:gpt-4o-mini@https://api.openai.com/v1"


def test_base_url_credentials_are_not_in_the_fingerprint() -> None:
    model = load_model("http://user:pw@host.test:8000/v1#llama")
    assert model.fingerprint == "openai-compatible:llama@http://host.test:8000/v1"
