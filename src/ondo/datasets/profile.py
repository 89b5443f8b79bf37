"""A version's profile: row count, columns and types, nulls, text lengths, language mix, duplicates.

Computed from the stored rows on first request and kept with the version (it never changes).
Language is decided per row from the share of Hangul, Latin and other letters in its text
(every string in the row, nested ones included):
the largest share wins ('ko', 'en', 'other'); a row without letters counts as 'other'.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from ondo.blobs import BlobStore
from ondo.datasets.manifest import Manifest
from ondo.datasets.packs import PackReader, load_rows
from ondo.datasets.rows import decode_row

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")
_ASCII_NON_LETTERS = {i: None for i in range(128) if not chr(i).isalpha()}


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _csv_value(v: str) -> Any:
    """CSV/TSV cells are text; profile them as the number or null they spell."""
    if v == "":
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def _strings(v: Any, out: list[str]) -> None:
    """Strings nested in lists and objects (a question's stem, a chat's turns) are text too."""
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, dict):
        for x in v.values():
            _strings(x, out)
    elif isinstance(v, list):
        for x in v:
            _strings(x, out)


def language_of(text: str) -> str:
    """'ko', 'en' or 'other' by which letters dominate ``text``."""
    if text.isascii():
        return "en" if len(text.translate(_ASCII_NON_LETTERS)) else "other"
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    other = len(_LETTER.findall(text)) - hangul - latin
    if hangul == latin == other == 0:
        return "other"
    if hangul >= latin and hangul >= other:
        return "ko"
    if latin >= other:
        return "en"
    return "other"


def _lengths(values: list[int]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    a = np.asarray(values, dtype=np.int64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99]).tolist()
    return {
        "count": len(values), "min": int(a.min()), "mean": round(float(a.mean()), 2),
        "p50": p50, "p90": p90, "p99": p99, "max": int(a.max()),
    }


def compute(blobs: BlobStore, manifest: Manifest) -> dict[str, Any]:
    row_count = 0
    order: dict[str, None] = {}
    types: dict[str, Counter[str]] = {}
    nulls: Counter[str] = Counter()
    col_lengths: dict[str, list[int]] = {}
    row_lengths: list[int] = []
    langs: Counter[str] = Counter()
    digests: list[np.ndarray] = []
    bad: list[dict[str, Any]] = []
    bad_rows = 0
    row_files = [f for f in manifest.files if f.kind == "rows" and f.rows]
    with PackReader(blobs) as reader:
        for entry in row_files:
            assert entry.rows is not None and entry.format is not None
            bad_rows += entry.bad_rows
            bad.extend({"file": entry.path, **s} for s in entry.bad_samples)
            rl = load_rows(blobs, entry.rows)
            digests.append(rl.digests)
            order.update(dict.fromkeys(entry.columns))
            csv_like = entry.format in ("csv", "tsv")
            for raw in reader.rows(rl):
                row = decode_row(raw, entry.format, entry.columns)
                row_count += 1
                texts: list[str] = []
                for k, v in row.items():
                    if csv_like:
                        v = _csv_value(v)
                    if k not in order:
                        order[k] = None
                    t = _type_name(v)
                    if t == "null":
                        nulls[k] += 1
                    else:
                        types.setdefault(k, Counter())[t] += 1
                    if t == "string":
                        texts.append(v)
                        col_lengths.setdefault(k, []).append(len(v))
                    elif t in ("list", "object"):
                        _strings(v, texts)
                for k in order:
                    if k not in row:
                        nulls[k] += 1
                text = " ".join(texts)
                row_lengths.append(sum(map(len, texts)))
                langs[language_of(text)] += 1
    unique = int(np.unique(np.concatenate(digests)).shape[0]) if digests else 0
    columns: dict[str, Any] = {}
    for k in order:
        counts = types.get(k, Counter())
        non_null = {t: n for t, n in counts.most_common()}
        kind = next(iter(non_null)) if len(non_null) == 1 else ("null" if not non_null else "mixed")
        columns[k] = {"type": kind, "types": non_null, "nulls": nulls.get(k, 0)}
        if k in col_lengths:
            columns[k]["length"] = _lengths(col_lengths[k])
    total_lang = sum(langs.values())
    return {
        "rows": row_count,
        "row_count": row_count,
        "files": len(manifest.files),
        "row_files": len(row_files),
        "size": manifest.size,
        "columns": columns,
        "null_counts": {k: nulls.get(k, 0) for k in order},
        "text_length": _lengths(row_lengths),
        "language_mix": {
            lang: (round(langs[lang] / total_lang, 4) if total_lang else 0.0) for lang in ("ko", "en", "other")
        },
        "language_counts": {lang: langs[lang] for lang in ("ko", "en", "other")},
        "duplicate_rows": row_count - unique,
        "bad_rows": bad_rows,
        "bad_row_samples": bad[:20],
    }
