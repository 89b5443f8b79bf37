"""Importing this package registers every domain's tables on the shared MetaData.

Each domain adds its module name to ALL_TABLE_MODULES (see the brief on migrations).
"""

from __future__ import annotations

import importlib

from ondo.store.tables.base import metadata

ALL_TABLE_MODULES: list[str] = [
    "core",
    "aliases",
    "datasets",
    "traces",
    "keys",
    "judge",
    "registry",
    "evals",
    "llm",
]

for _mod in ALL_TABLE_MODULES:
    importlib.import_module(f"ondo.store.tables.{_mod}")

__all__ = ["ALL_TABLE_MODULES", "metadata"]
