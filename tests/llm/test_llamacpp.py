"""llama.cpp engine: logits-based loglikelihood (not echo logprobs), prefix reuse, constrained output."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ondo.llm.types import ChatMessage, ChatRequest, GenerateRequest
from ondo.llm.types import LoglikelihoodRequest as R

pytestmark = pytest.mark.llm

REQS = [
    R("Question: What is the capital of France?\nAnswer:", " Paris"),
    R("Question: What is the capital of France?\nAnswer:", " London"),
    R("Question: What is the capital of France?\nAnswer: ", "The capital is Berlin"),
    R("The cat sat on the", " mat"),
    R("", "Hello world"),
]


def test_prefix_reuse_gives_the_same_numbers_as_fresh_evaluation(llama_model: Any) -> None:
    together = asyncio.run(llama_model.loglikelihood(REQS))
    for req, res in zip(REQS, together, strict=True):
        llama_model.scorer.reset()
        [alone] = asyncio.run(llama_model.loglikelihood([req]))
        assert res.logprob == pytest.approx(alone.logprob, abs=1e-4)
        assert res.is_greedy == alone.is_greedy and res.n_tokens == alone.n_tokens


def test_agrees_with_transformers_on_the_same_weights(llama_model: Any, hf_model: Any) -> None:
    """Different dequantisation paths (llama.cpp multiplies Q4_1 weights by Q8 activations;
    transformers dequantises to float32), so numbers agree to a tolerance, not exactly."""
    a = asyncio.run(llama_model.loglikelihood(REQS))
    b = asyncio.run(hf_model.loglikelihood(REQS))
    for x, y in zip(a, b, strict=True):
        assert x.n_tokens == y.n_tokens
        assert x.logprob == pytest.approx(y.logprob, abs=0.1 * y.n_tokens + 0.5)
    # the ranking that matters for multiple choice is the same
    assert (a[0].logprob > a[1].logprob) == (b[0].logprob > b[1].logprob)


def test_json_schema_constrained_output_is_valid(llama_model: Any) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"]}
    resp = asyncio.run(llama_model.chat(ChatRequest(
        messages=[ChatMessage(role="user", content="Give the largest city of Japan as JSON.")],
        json_schema=schema, max_tokens=60)))
    data = json.loads(resp.text)
    assert isinstance(data["city"], str) and isinstance(data["population"], int)
    assert resp.usage.output_tokens > 0 and resp.usage.compute_seconds and resp.usage.compute_seconds > 0


def test_grammar_constrained_completion(llama_model: Any) -> None:
    resp = asyncio.run(llama_model.generate(GenerateRequest(
        prompt="Is the sky blue? Answer:", max_tokens=4, extra={"grammar": 'root ::= " yes" | " no"'})))
    assert resp.text in (" yes", " no")


def test_chat_stream_yields_text_then_usage(llama_model: Any) -> None:
    async def collect() -> list[Any]:
        return [c async for c in llama_model.chat_stream(ChatRequest(
            messages=[ChatMessage(role="user", content="Say hi.")], max_tokens=8))]

    chunks = asyncio.run(collect())
    assert "".join(c.delta for c in chunks).strip()
    assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].usage is not None
