"""Row groups cut by content and the rows digest over them: equal files get equal digests whatever
their history, the cuts a first add computes in bulk are the ones a re-add makes row by row, and
a corrupted row in a first add's body pack is found by `verify` and refused by checkout."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
from dataset_files import age, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

import ondo
from ondo.datasets import ingest
from ondo.datasets.packs import (
    MAX_GROUP_BYTES,
    ROWS_DIGEST,
    GroupRule,
    body_pack_name,
    load_index,
    rows_digest,
)
from ondo.errors import StoreError
from ondo.workspace import Workspace


def _row_by_row(rule: GroupRule, digests: list[bytes], sizes: list[int]) -> list[int]:
    out, count, span = [], 0, 0
    for i, (d, size) in enumerate(zip(digests, sizes, strict=True)):
        count += 1
        span += size
        if rule.closes(count, span, d):
            out.append(i + 1)
            count = span = 0
    if count:
        out.append(len(digests))
    return out


@settings(max_examples=200, deadline=None)
@given(
    avg=st.sampled_from([1, 2, 4, 16]),
    rows=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 3)), max_size=300),
    big=st.booleans(),
)
def test_bulk_cuts_are_the_row_by_row_cuts(avg: int, rows: list[tuple[int, int]], big: bool) -> None:
    rule = GroupRule(avg)
    digests = [hashlib.sha256(str(v).encode()).digest() for v, _ in rows]  # few values: repeated marked rows
    sizes = [s * (MAX_GROUP_BYTES // 2 if big else 10) for _, s in rows]  # big: the byte limit decides
    ends = np.cumsum(np.asarray(sizes, np.int64))
    assert rule.cuts(b"".join(digests), ends) == _row_by_row(rule, digests, sizes)


def test_a_group_is_never_shorter_than_the_minimum_except_at_the_end() -> None:
    rule = GroupRule(64)
    marked = next(hashlib.sha256(b"%d" % i).digest() for i in range(10**6) if rule.marked(hashlib.sha256(b"%d" % i).digest()))
    cuts = rule.cuts(marked * 1000, np.arange(1, 1001, dtype=np.int64))  # one marked row, a thousand times
    assert cuts == [*range(rule.min_rows, 1000, rule.min_rows), 1000]


def _rows(seed: int, n: int) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    return [{"id": i, "text": "x" * rnd.randrange(30), "ko": "가" * (i % 5)} for i in range(n)]


@pytest.mark.parametrize("edit", ["change", "insert", "delete"])
def test_equal_files_get_equal_digests_whatever_their_history(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 32)
    rows = _rows(1, 3000)
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    age(src)
    v1 = ondo.data.add(src, name="h")
    first = v1.manifest.by_path()["a.jsonl"]
    assert first.digest.startswith(ROWS_DIGEST) and ws.blobs.exists(body_pack_name(first.digest))
    edited = list(rows)
    if edit == "change":
        edited[1500] = {"id": 1500, "text": "edited"}
    elif edit == "insert":
        edited.insert(1500, {"new": True})
    else:
        del edited[1500]
    write_jsonl(src, edited)
    age(src)
    v2 = ondo.data.add(src, name="h")
    assert v2.manifest.by_path()["a.jsonl"].digest != first.digest
    write_jsonl(src, rows)  # back as it was: the same digest as the first time
    age(src)
    v3 = ondo.data.add(src, name="h")
    assert v3.manifest.by_path()["a.jsonl"].digest == first.digest
    # and the same as a first add of the same bytes under another name, with no history at all
    fresh = ondo.data.add(write_jsonl(tmp_path / "b" / "a.jsonl", rows), name="other")
    assert fresh.manifest.by_path()["a.jsonl"].digest == first.digest
    # the edited version's groups: the same cuts as a first add of the edited file
    again = ondo.data.add(write_jsonl(tmp_path / "c" / "a.jsonl", edited), name="third")
    edited_index = load_index(ws.blobs, v2.manifest.by_path()["a.jsonl"].rows or "")
    fresh_index = load_index(ws.blobs, again.manifest.by_path()["a.jsonl"].rows or "")
    assert [(g.count, g.span, g.hash) for g in edited_index.groups] == [
        (g.count, g.span, g.hash) for g in fresh_index.groups
    ]
    assert again.manifest.by_path()["a.jsonl"].digest == v2.manifest.by_path()["a.jsonl"].digest


def test_a_corrupted_row_in_a_body_pack_is_found_and_refused(ws: Workspace, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", _rows(2, 500))
    v = ondo.data.add(src, name="c")
    entry = v.manifest.by_path()["a.jsonl"]
    pack = Path(ws.blobs.path_of(body_pack_name(entry.digest)))
    data = bytearray(pack.read_bytes())
    at = data.index(b'"id": 250')
    data[at + 7] = ord("9")  # same length, another row
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    report = ondo.data.verify("c")
    assert not report.ok
    assert [(p["role"], p["status"], p["blob"]) for p in report.problems] == [
        ("row pack", "corrupted", body_pack_name(entry.digest))
    ]
    with pytest.raises(StoreError, match="does not match its recorded digest"):
        v.checkout(tmp_path / "out")


def test_a_rows_digest_is_not_the_sha256_of_the_file(ws: Workspace, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", _rows(3, 50))
    v = ondo.data.add(src, name="d")
    entry = v.manifest.by_path()["a.jsonl"]
    assert entry.digest != "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()
    assert json.loads(ws.blobs.get_bytes(v.digest))["format"] == "ondo.dataset/2"


@settings(max_examples=300, deadline=None)
@given(data=st.binary(min_size=1, max_size=80), a=st.integers(0, 40), b=st.integers(0, 40), flip=st.integers(0, 79))
def test_byte_ranges_compare_equal_at_any_alignment(data: bytes, a: int, b: int, flip: int) -> None:
    """``_equal`` compares 8 bytes at a time through views that need not be aligned."""
    x = np.frombuffer(bytes(40) + data, np.uint8)[40 - a % 40 :]
    y = np.frombuffer(bytes(40) + data, np.uint8)[40 - b % 40 :]
    x, y = x[a % 40 :], y[b % 40 :]  # the same bytes, at other addresses
    assert ingest._equal(x, y)
    z = bytearray(bytes(y))
    z[flip % len(z)] ^= 1
    assert not ingest._equal(x, np.frombuffer(bytes(z), np.uint8))


def test_a_rows_digest_fits_the_digest_columns() -> None:
    """PostgreSQL refuses what SQLite lets through: digest columns hold "sha256:" and 64 hex digits."""
    from ondo.store.tables.datasets import dataset_stat_cache

    width = dataset_stat_cache.c.digest.type.length  # type: ignore[attr-defined]
    assert len(rows_digest(GroupRule(4096), b"", [b"\0" * 32])) <= width == len("sha256:") + 64
