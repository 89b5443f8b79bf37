"""The OpenAI-compatible provider against a real server: llama_cpp.server on 127.0.0.1 serving SmolLM2."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ondo.errors import UnsupportedOperation
from ondo.llm import ChatMessage, ChatRequest, GenerateRequest, LoglikelihoodRequest, load_model
from ondo.llm.openai_compat import OpenAICompatModel

pytestmark = pytest.mark.llm


def ask(text: str, **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **kw)


def test_chat_generate_and_stream_against_llama_cpp_server(llama_server: str) -> None:
    model = load_model(f"{llama_server}#smollm2")
    assert isinstance(model, OpenAICompatModel)

    async def scenario() -> tuple[Any, Any, list[Any], list[Any]]:
        chat = await model.chat(ask("What is 2+2? Answer with a number.", max_tokens=6))
        gen = await model.generate(GenerateRequest(prompt="The capital of France is", max_tokens=5))
        chunks = [c async for c in model.chat_stream(ask("Say hello.", max_tokens=10))]
        many = await model.chat([ask(f"Count to {i}.", max_tokens=6) for i in range(2)])
        await model.aclose()
        return chat, gen, chunks, many

    chat, gen, chunks, many = asyncio.run(scenario())
    assert chat.text.strip() and chat.finish_reason in ("stop", "length")
    assert chat.usage.input_tokens > 5 and chat.usage.output_tokens > 0
    assert gen.text and gen.usage.output_tokens <= 5
    assert "".join(c.delta for c in chunks).strip()
    assert chunks[-1].finish_reason in ("stop", "length")
    assert len(many) == 2 and all(m.text for m in many)


def test_shifted_echo_logprobs_of_llama_cpp_server_are_refused(llama_server: str) -> None:
    model = load_model(f"{llama_server}#smollm2")
    with pytest.raises(UnsupportedOperation, match="1983"):
        asyncio.run(model.loglikelihood([LoglikelihoodRequest("The cat sat on the", " mat")]))
    assert "loglikelihood" not in model.capabilities


def test_model_discovered_from_the_server(llama_server: str) -> None:
    model = load_model(llama_server)
    assert model.model_name == "smollm2"
    assert model.fingerprint.startswith("openai-compatible:smollm2@http://127.0.0.1:")
