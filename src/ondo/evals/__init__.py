"""Evaluation: text metrics, benchmarks, LLM-as-judge, arena ratings, human labels.

Each family is its own subpackage (``ondo.evals.metrics``, ``ondo.evals.bench``,
``ondo.evals.judge`` ...). They are loaded on first attribute access so that
``from ondo import evals`` stays cheap and never drags in numpy-heavy or model code.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBPACKAGES = ("metrics", "bench", "judge", "arena", "human", "rag")

__all__ = list(_SUBPACKAGES)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
