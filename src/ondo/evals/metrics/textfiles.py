"""Reading predictions and references from files, with mistakes located by file and line.

Two formats, chosen by extension: ``.jsonl``/``.json``/``.ndjson`` hold one JSON value per
line -- a string, a list of strings (several references), or an object whose text sits in a
known field (``prediction``, ``text``, ``reference``, ``answers`` ...; SQuAD-style
``{"text": [...]}`` answer objects are understood); anything else is plain text, one
item per line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ondo.errors import InvalidInput

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PREDICTION_FIELDS = ("prediction", "predictions", "pred", "hypothesis", "output", "generated", "response",
                     "completion", "text")
REFERENCE_FIELDS = ("references", "reference", "ref", "refs", "target", "targets", "answers", "answer", "gold",
                    "label", "text")


def _texts(value: Any, *, path: str, line: int, field: str | None, many: bool) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and "text" in value:  # SQuAD answers {"text": [...], "answer_start": [...]}
        return _texts(value["text"], path=path, line=line, field=f"{field}.text" if field else "text", many=many)
    if isinstance(value, list) and many:
        if not value:
            raise InvalidInput("empty list of references", file=path, line=line, field=field)
        out: list[str] = []
        for v in value:
            if not isinstance(v, str):
                raise InvalidInput(f"expected strings in the list, found {type(v).__name__}", file=path, line=line,
                                   field=field)
            out.append(v)
        return out
    kind = "a string or a list of strings" if many else "a string"
    raise InvalidInput(f"expected {kind}, found {type(value).__name__}", file=path, line=line, field=field)


def read_texts(path: str | Path, *, role: str = "prediction", field: str | None = None) -> list[list[str]]:
    """Items of a predictions (``role="prediction"``) or references file: each a list of one or more texts.

    Predictions must be single strings; references may be lists (several references).
    """
    p = Path(path)
    name = str(path)
    if not p.is_file():
        raise InvalidInput(f"{role}s file not found", file=name)
    many = role == "reference"
    candidates = (field,) if field else (PREDICTION_FIELDS if role == "prediction" else REFERENCE_FIELDS)
    try:
        raw = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=name) from exc
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    items: list[list[str]] = []
    if p.suffix.lower() not in JSONL_SUFFIXES:
        return [[line.rstrip("\r")] for line in lines]
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise InvalidInput("empty line (every line must hold one JSON value)", file=name, line=lineno)
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"not valid JSON ({exc.msg})", file=name, line=lineno) from exc
        is_answer_object = isinstance(value, dict) and field is None and set(value) <= {"text", "answer_start"}
        if isinstance(value, dict) and not is_answer_object:
            key = next((k for k in candidates if k in value), None)
            if key is None:
                wanted = ", ".join(f"'{k}'" for k in candidates)
                raise InvalidInput(f"no {role} field: expected one of {wanted}", file=name, line=lineno,
                                   field=field)
            items.append(_texts(value[key], path=name, line=lineno, field=key, many=many))
        else:
            items.append(_texts(value, path=name, line=lineno, field=None, many=many))
    return items
