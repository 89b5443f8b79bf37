"""The price of one answer, from ``ondo.llm.cost``'s price table.

Local engines cost 0 (they record compute seconds instead); an unknown provider model has
no price (None), which the span and the metrics leave empty rather than guessing.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

log = logging.getLogger("ondo.gateway")

_LOCAL = frozenset({"local", "llamacpp", "llama.cpp", "transformers", "hf"})
_cache: dict[tuple[str, str, int, int, int, int], float | None] = {}
_fn: Any = None
_style: str | None = None


def _cost_fn() -> tuple[Any, str]:
    global _fn, _style
    if _style is None:
        try:
            from ondo.llm import cost as cost_module
        except ImportError:
            _fn, _style = None, "none"
            return _fn, _style
        fn = getattr(cost_module, "cost", None)
        if fn is None:
            _fn, _style = None, "none"
            return _fn, _style
        params = list(inspect.signature(fn).parameters)
        _fn = fn
        _style = "usage-first" if params and params[0] in ("usage", "u") else "keywords"
    return _fn, _style


def price(provider: str, model: str, usage: Any) -> float | None:
    """USD for ``usage`` on ``provider``/``model``; 0.0 for local engines; None when unpriced."""
    if provider.lower() in _LOCAL:
        return 0.0
    key = (provider, model, int(getattr(usage, "input_tokens", 0) or 0),
           int(getattr(usage, "cached_input_tokens", 0) or 0), int(getattr(usage, "output_tokens", 0) or 0),
           int(getattr(usage, "reasoning_tokens", 0) or 0))
    if key in _cache:
        return _cache[key]
    fn, style = _cost_fn()
    value: float | None = None
    if fn is not None:
        try:
            raw = fn(usage, provider=provider, model=model) if style == "usage-first" else fn(
                provider=provider, model=model, usage=usage)
            value = _as_float(raw)
        except Exception as exc:  # an unpriced model is not an error for the caller
            log.debug("no price for %s/%s: %s", provider, model, exc)
            value = None
    if len(_cache) > 10000:
        _cache.clear()
    _cache[key] = value
    return value


def _as_float(raw: Any) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, int | float):
        return float(raw)
    for attr in ("usd", "total_usd", "total", "cost_usd", "cost"):
        v = getattr(raw, attr, None)
        if isinstance(v, int | float):
            return float(v)
    return None
