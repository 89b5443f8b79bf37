"""Token counts: the model's own tokenizer when there is one, else a flagged estimate."""

from __future__ import annotations

from typing import Any

import pytest

from ondo.llm.tokens import count_tokens, estimate_tokens


def test_estimate_is_flagged_and_counts_bytes() -> None:
    c = count_tokens("hello world!", model="no-such-model")
    assert c.estimated and c.method == "estimate" and c.n == 3
    # Hangul: 3 UTF-8 bytes a syllable, so 4 syllables estimate as 3 tokens, not 1
    assert estimate_tokens("안녕하세") == 3


def test_chat_messages_are_counted_with_their_roles() -> None:
    n_text = count_tokens("user\nhi").n
    assert count_tokens([{"role": "user", "content": "hi"}]).n == n_text


@pytest.mark.llm
def test_model_tokenizer_is_exact(hf_model: Any) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    c = count_tokens(text, model=hf_model)
    assert c.method == "tokenizer" and not c.estimated
    assert c.n == len(hf_model.tokenizer(text, add_special_tokens=False).input_ids)


def test_tiktoken_for_openai_names_when_installed() -> None:
    tiktoken = pytest.importorskip("tiktoken")
    c = count_tokens("hello world", model="gpt-4o-mini")
    assert c.method == "tiktoken" and c.n == len(tiktoken.encoding_for_model("gpt-4o-mini").encode("hello world"))
