"""How commands print: a rich table for people, or JSON with ``--json`` for scripts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


def _default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if hasattr(o, "__dataclass_fields__"):
        return {k: getattr(o, k) for k in o.__dataclass_fields__}
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    return str(o)


def _clean(o: Any) -> Any:
    """JSON has no NaN/inf: print them as strings so the output stays valid JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return "NaN" if math.isnan(o) else ("Infinity" if o > 0 else "-Infinity")
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(_clean(json.loads(json.dumps(obj, default=_default))), ensure_ascii=False, indent=2))


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c)
    for r in rows:  # cells are literal text: a '[/x]' in a name or reason is not rich markup
        table.add_row(*(v if isinstance(v, Text) else Text("" if v is None else str(v)) for v in r))
    print_whole(table)


def print_whole(renderable: Any) -> None:
    """On a terminal rich fits a table or tree to the window; into a pipe or a file it prints whole.

    Without a terminal rich assumes 80 columns and would fold reasons, paths and times over several
    lines or cut them to '2026-11-27T0…', which makes the output useless to grep or to copy from.
    """
    if console.is_terminal:
        console.print(renderable)
        return
    natural = console.measure(renderable, options=console.options.update_width(100_000)).maximum
    Console(file=console.file, width=max(console.width, natural)).print(renderable)
