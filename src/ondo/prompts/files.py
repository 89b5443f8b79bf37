"""Read a prompt from a file: a template (.j2, .jinja, .txt, .md) or a YAML/JSON spec.

A spec is a mapping with ``template`` (text) or ``messages`` (a list of role/content), and
optionally ``model``, ``params``, ``variables``, ``description`` and ``tags``; a bare list is
taken as the messages of a chat prompt. Errors name the file and, for YAML, the line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput

TEMPLATE_SUFFIXES = {".j2", ".jinja", ".jinja2", ".txt", ".md", ".prompt", ".tmpl"}
SPEC_SUFFIXES = {".yaml", ".yml", ".json"}
SPEC_KEYS = {"template", "messages", "model", "params", "variables", "description", "tags"}


def load(path: str | Path) -> dict[str, Any]:
    """The keyword arguments for ``ondo.prompts.register`` that ``path`` describes."""
    p = Path(path)
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("prompt file does not exist", file=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read prompt file: {exc}", file=where) from None
    suffix = p.suffix.lower()
    if suffix in SPEC_SUFFIXES:
        return _spec(parse(text, suffix, where), where)
    if suffix in TEMPLATE_SUFFIXES or not suffix:
        return {"template": text}
    raise InvalidInput(
        f"unknown prompt file type '{suffix}': use a template ({', '.join(sorted(TEMPLATE_SUFFIXES))}) "
        f"or a spec ({', '.join(sorted(SPEC_SUFFIXES))})",
        file=where,
    )


def parse(text: str, suffix: str, where: str) -> Any:
    """JSON (``.json``) or YAML text as data; errors name ``where`` and the line."""
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"invalid JSON: {exc.msg}", file=where, line=exc.lineno) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"invalid YAML: {problem}", file=where, line=mark.line + 1 if mark else None) from None


def _spec(doc: Any, where: str) -> dict[str, Any]:
    if isinstance(doc, list):
        return {"template": doc}
    if not isinstance(doc, Mapping):
        raise InvalidInput("a prompt spec is a mapping (template or messages, model, params...) or a message list",
                           file=where)
    unknown = set(doc) - SPEC_KEYS
    if unknown:
        raise InvalidInput(f"unknown keys {', '.join(sorted(map(str, unknown)))}; expected {', '.join(sorted(SPEC_KEYS))}",
                           file=where)
    if ("template" in doc) == ("messages" in doc):
        raise InvalidInput("a prompt spec needs exactly one of 'template' (text) or 'messages' (chat)", file=where)
    out: dict[str, Any] = {"template": doc.get("template", doc.get("messages"))}
    for key in ("model", "params", "variables", "description", "tags"):
        if doc.get(key) is not None:
            out[key] = doc[key]
    return out
