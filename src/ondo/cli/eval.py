"""``ondo eval``: metrics, benchmarks, MT-Bench. Each family adds its commands from its own module."""

from __future__ import annotations

import importlib

import typer

eval_app = typer.Typer(help="Evaluate models: text metrics, benchmarks, LLM-as-judge.", no_args_is_help=True)

# modules that define `register(eval_app)`; missing ones have not landed yet
_FAMILIES = ["eval_metrics", "eval_bench", "eval_judge"]

for _name in _FAMILIES:
    try:
        _mod = importlib.import_module(f"ondo.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"ondo.cli.{_name}":
            raise
        continue
    _mod.register(eval_app)
