"""ondo (온도): an open-source LLMOps platform.

The public API. Names are resolved lazily so ``import ondo`` stays fast and the heavy
extras (torch, transformers, llama.cpp) load only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute" (or "module" for a submodule facade)
_EXPORTS: dict[str, str] = {
    # errors and identifiers
    "OndoError": "ondo.errors:OndoError",
    "NotFound": "ondo.errors:NotFound",
    "InvalidInput": "ondo.errors:InvalidInput",
    "Conflict": "ondo.errors:Conflict",
    "GateFailed": "ondo.errors:GateFailed",
    "StoreError": "ondo.errors:StoreError",
    "parse_ref": "ondo.ids:parse_ref",
    "Ref": "ondo.ids:Ref",
    "Workspace": "ondo.workspace:Workspace",
    # tracking
    "start_run": "ondo.tracking:start_run",
    "active_run": "ondo.tracking:active_run",
    "Run": "ondo.tracking:Run",
    "Client": "ondo.client:Client",
    # domain facades
    "data": "ondo.data",
    "prompts": "ondo.prompts",
    "models": "ondo.models",
    "sweep": "ondo.prompts.sweep:sweep",
    "lineage": "ondo.models:lineage",
    "llm": "ondo.llm",
    "evals": "ondo.evals",
    "trace": "ondo.traces:trace",
    "span": "ondo.traces:span",
    "traces": "ondo.traces",
    "create_app": "ondo.server.app:create_app",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'ondo' has no attribute '{name}'")
    module, _, attr = target.partition(":")
    value = importlib.import_module(module)
    if attr:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
