"""Transformers engine generation: chat template, greedy determinism, stop strings, usage."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ondo.errors import UnsupportedOperation
from ondo.llm.types import ChatMessage, ChatRequest, GenerateRequest

pytestmark = pytest.mark.llm


def test_chat_uses_the_chat_template_and_is_deterministic_when_greedy(hf_model: Any) -> None:
    req = ChatRequest(messages=[ChatMessage(role="user", content="What is the capital of France?")], max_tokens=8)
    a, b = asyncio.run(hf_model.chat([req, req]))
    assert a.text.strip() and a.text == b.text
    template = hf_model.tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                                      add_generation_prompt=True, tokenize=True)
    ids = template["input_ids"] if isinstance(template, dict) or hasattr(template, "keys") else template
    assert a.usage.input_tokens == len(ids)
    assert 0 < a.usage.output_tokens <= 8 and a.usage.compute_seconds and a.usage.compute_seconds > 0
    assert a.finish_reason in ("stop", "length")


def test_generate_stops_at_stop_strings(hf_model: Any) -> None:
    resp = asyncio.run(hf_model.generate(GenerateRequest(prompt="1, 2, 3, 4,", max_tokens=12, stop=[" 7"])))
    assert " 7" not in resp.text and resp.finish_reason == "stop"


def test_json_schema_is_refused_with_a_pointer_to_llama_cpp(hf_model: Any) -> None:
    with pytest.raises(UnsupportedOperation, match="llamacpp"):
        asyncio.run(hf_model.generate(GenerateRequest(prompt="x", json_schema={"type": "object"})))
