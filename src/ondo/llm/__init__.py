"""ondo.llm: one async interface over every model provider.

``load_model("local:smollm2")`` (or ``hf:``, ``llamacpp:``, ``openai:``, an OpenAI-compatible
URL) returns a :class:`Model` with ``chat``, ``chat_stream``, ``generate``,
``loglikelihood`` and ``embed``. ``CachedModel`` answers repeated calls from the store;
``cost`` prices normalised :class:`Usage`. Heavy engines load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ChatMessage": "ondo.llm.types",
    "ChatRequest": "ondo.llm.types",
    "ChatResponse": "ondo.llm.types",
    "ChatChunk": "ondo.llm.types",
    "GenerateRequest": "ondo.llm.types",
    "GenerateResponse": "ondo.llm.types",
    "LoglikelihoodRequest": "ondo.llm.types",
    "LoglikelihoodResult": "ondo.llm.types",
    "EmbeddingResponse": "ondo.llm.types",
    "SamplingParams": "ondo.llm.types",
    "Usage": "ondo.llm.types",
    "move_trailing_spaces": "ondo.llm.types",
    "Model": "ondo.llm.provider",
    "ModelBase": "ondo.llm.provider",
    "DelegatingModel": "ondo.llm.provider",
    "ProviderError": "ondo.llm.provider",
    "CAPABILITIES": "ondo.llm.provider",
    "load_model": "ondo.llm.spec",
    "load_model_from_source": "ondo.llm.spec",
    "bundled_model_path": "ondo.llm.weights",
    "file_digest": "ondo.llm.weights",
    "cache_dir": "ondo.llm.weights",
    "RoutedModel": "ondo.llm.routing",
    "DefaultParamsModel": "ondo.llm.routing",
    "OpenAICompatModel": "ondo.llm.openai_compat",
    "LlamaCppModel": "ondo.llm.llamacpp",
    "TransformersModel": "ondo.llm.transformers_local",
    "CachedModel": "ondo.llm.cache",
    "CacheStats": "ondo.llm.cache",
    "PriceTable": "ondo.llm.cost",
    "price_for": "ondo.llm.cost",
    "count_tokens": "ondo.llm.tokens",
    "TokenCount": "ondo.llm.tokens",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ondo.llm' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
