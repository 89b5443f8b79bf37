"""Profiles, checked against statistics computed here independently from the source files."""

from __future__ import annotations

import json
import shutil
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ondo
from ondo.workspace import Workspace


def _strings(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [s for x in v.values() for s in _strings(x)]
    if isinstance(v, list):
        return [s for x in v for s in _strings(x)]
    return []


def _language(text: str) -> str:
    counts = Counter()
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        counts["ko" if name.startswith("HANGUL") else "en" if name.startswith("LATIN") else "other"] += 1
    if not counts:
        return "other"
    best = max(counts.values())
    return next(lang for lang in ("ko", "en", "other") if counts[lang] == best)


@pytest.mark.parametrize(
    "rel",
    [
        "korean/horangi_mini/squad_kor_v1_mini.jsonl",
        "korean/ko_mt_bench/question_ko.jsonl",
        "arc/ARC-Easy-Dev.jsonl",
        "mt_bench/question.jsonl",
    ],
)
def test_profile_matches_independent_counts(ws: Workspace, shared_data: Path, tmp_path: Path, rel: str) -> None:
    src = tmp_path / Path(rel).name
    shutil.copyfile(shared_data / rel, src)
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    prof = ondo.data.add(src, name="p").profile

    assert prof["rows"] == len(rows)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    assert list(prof["columns"]) == keys
    for k in keys:
        nulls = sum(1 for r in rows if r.get(k) is None)
        assert prof["columns"][k]["nulls"] == nulls == prof["null_counts"][k]
    langs = Counter(_language(" ".join(_strings(r))) for r in rows)
    assert prof["language_counts"] == {lang: langs[lang] for lang in ("ko", "en", "other")}
    lengths = [sum(len(s) for s in _strings(r)) for r in rows]
    assert prof["text_length"]["max"] == max(lengths) and prof["text_length"]["min"] == min(lengths)
    assert prof["text_length"]["p50"] == pytest.approx(float(np.percentile(lengths, 50)))
    raw = [line for line in src.read_bytes().splitlines() if line.strip()]
    assert prof["duplicate_rows"] == len(raw) - len(set(raw))
    if rel.startswith("korean"):
        assert prof["language_mix"]["ko"] > 0.5
    else:
        assert prof["language_mix"]["en"] > 0.9


def test_profile_types_duplicates_and_persistence(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    lines = [
        '{"id": 1, "text": "안녕하세요 반갑습니다", "score": 0.5, "tags": ["a"]}',
        '{"id": 2, "text": "hello there", "score": null, "tags": []}',
        '{"id": 3, "text": "Привет мир", "score": 1}',
        '{"id": 1, "text": "안녕하세요 반갑습니다", "score": 0.5, "tags": ["a"]}',
        '{"id": 1, "text": "안녕하세요 반갑습니다", "score": 0.5, "tags": ["a"]}',
        '{"id": 4, "text": "12345 !!!"}',
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    v = ondo.data.add(src, name="types")
    prof = v.profile
    assert prof["duplicate_rows"] == 2
    assert prof["columns"]["id"]["type"] == "int"
    assert prof["columns"]["text"]["type"] == "string"
    assert prof["columns"]["score"]["type"] == "mixed"
    assert prof["columns"]["score"]["types"] == {"float": 3, "int": 1}
    assert prof["columns"]["score"]["nulls"] == 2  # one null, one missing
    assert prof["columns"]["tags"]["nulls"] == 2
    assert prof["language_counts"] == {"ko": 3, "en": 1, "other": 2}
    assert prof["columns"]["text"]["length"]["max"] == len("안녕하세요 반갑습니다")
    # stored with the version: a fresh handle reads it back without recomputing
    again = ondo.data.get("types@v1")
    assert again._row.profile == prof


def test_csv_profile_reads_numbers_and_empty_cells(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("id,score,text\n1,0.5,hello\n2,,안녕\n3,7,\n")
    prof = ondo.data.add(src, name="csvp").profile
    assert prof["columns"]["id"]["type"] == "int"
    assert prof["columns"]["score"]["types"] == {"float": 1, "int": 1}
    assert prof["null_counts"] == {"id": 0, "score": 1, "text": 1}
    assert prof["language_counts"] == {"ko": 1, "en": 1, "other": 1}
