"""Count tokens: exactly when we can, by estimate (flagged) when we cannot.

Order of preference: the model's own tokenizer (a local transformers or llama.cpp model),
tiktoken for OpenAI model names (when installed), else ``ceil(utf8_bytes / 4)`` marked
``estimated``. Bytes rather than characters: for Hangul (3 bytes a syllable) a character
count underestimates GPT-style token counts about threefold; for ASCII the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ondo.llm.types import ChatMessage


@dataclass(frozen=True)
class TokenCount:
    n: int
    method: str  # "tokenizer" | "tiktoken" | "estimate"

    @property
    def estimated(self) -> bool:
        return self.method == "estimate"

    def __int__(self) -> int:
        return self.n


def _text_of(content: str | Sequence[ChatMessage | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for m in content:
        msg = m if isinstance(m, ChatMessage) else ChatMessage.model_validate(m)
        parts.append(f"{msg.role}\n{msg.text}")
    return "\n".join(parts)


def count_tokens(content: str | Sequence[ChatMessage | dict[str, Any]], model: Any = None) -> TokenCount:
    """Tokens in ``content`` (text or chat messages) for ``model`` (a Model, or a model name)."""
    text = _text_of(content)
    counted = _with_model_tokenizer(text, model)
    if counted is not None:
        return TokenCount(counted, "tokenizer")
    name = model if isinstance(model, str) else getattr(model, "model_name", None)
    if isinstance(name, str):
        n = _with_tiktoken(text, name)
        if n is not None:
            return TokenCount(n, "tiktoken")
    return TokenCount(estimate_tokens(text), "estimate")


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4)


def _with_model_tokenizer(text: str, model: Any) -> int | None:
    if model is None or isinstance(model, str):
        return None
    from ondo.llm.llamacpp import LlamaCppModel
    from ondo.llm.provider import DelegatingModel
    from ondo.llm.routing import RoutedModel
    from ondo.llm.transformers_local import TransformersModel

    if isinstance(model, TransformersModel):
        return len(model.encode([text])[0])
    if isinstance(model, LlamaCppModel):
        return len(model.generator.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    if isinstance(model, RoutedModel):
        for inner in (model.scorer, model.generator):
            n = _with_model_tokenizer(text, inner) if inner is not None else None
            if n is not None:
                return n
    if isinstance(model, DelegatingModel):
        return _with_model_tokenizer(text, model.inner)
    return None


def _with_tiktoken(text: str, name: str) -> int | None:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        enc = tiktoken.encoding_for_model(name)
    except KeyError:
        return None
    return len(enc.encode(text, disallowed_special=()))
