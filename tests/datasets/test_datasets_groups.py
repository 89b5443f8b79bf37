"""Row groups cut by content and the rows digest over them: equal files get equal digests whatever
their history, the cuts a first add computes in bulk are the ones a re-add makes row by row, and
a corrupted row in a first add's body pack is found by `verify` and refused by checkout."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dataset_files import age, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ondo
from ondo.datasets import ingest
from ondo.datasets.packs import (
    MAX_GROUP_BYTES,
    ROWS_DIGEST,
    Group,
    GroupRule,
    body_pack_name,
    load_index,
    rows_digest,
)
from ondo.errors import InvalidInput, StoreError
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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 120),
    edits=st.lists(st.tuples(st.sampled_from(["change", "insert", "delete", "bad"]), st.integers(0, 200)), max_size=4),
    final=st.booleans(),
)
def test_lines_walked_in_bulk_group_as_row_by_row(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, edits: list[tuple[str, int]], final: bool
) -> None:
    """A re-add walks new JSON lines a window at a time; small windows, big ones and none at all
    (row by row) must give the same groups and digest as a first add of the edited file, and a bad
    line must be reported at its line whichever way it is reached."""
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 8)
    lines = [json.dumps({"i": i, "t": "x" * (i % 5)}) for i in range(n)]
    edited = list(lines)
    bad_at = None
    for k, (op, at) in enumerate(edits):
        p = at % (len(edited) + 1)
        if op == "insert":
            edited.insert(p, json.dumps({"new": k}))
        elif op == "delete" and edited:
            del edited[min(p, len(edited) - 1)]
        elif op == "change" and edited:
            edited[min(p, len(edited) - 1)] = json.dumps({"changed": k, "v": [k]})
        elif op == "bad" and bad_at is None:
            bad_at = at  # inserted once the other edits are made, so its line stays known
    if bad_at is not None:
        bad_at %= len(edited) + 1
        edited.insert(bad_at, '{"broken": ')
    text = "\n".join(edited) + ("\n" if final and edited else "")
    results: list[tuple[Any, ...]] = []
    taken: list[str] = []
    real_bulk = ingest._walk_bulk

    def counting(*a: object) -> object:
        out = real_bulk(*a)  # type: ignore[arg-type]
        if out is not None:
            taken.append(label)
        return out

    monkeypatch.setattr(ingest, "_walk_bulk", counting)
    for label, window in (("small", 256), ("big", 4 << 20), ("none", 0)):
        name = f"b{uuid.uuid4().hex[:8]}"
        src = tmp_path / name / "a.jsonl"
        src.parent.mkdir()
        src.write_text("\n".join(lines) + "\n")
        age(src)
        ondo.data.add(src, name=name)
        src.write_text(text)
        age(src)
        with monkeypatch.context() as m:
            m.setattr(ingest, "_BULK_BYTES", window or 256)
            if not window:
                m.setattr(ingest, "_bulk_lines", lambda *a: None)
            if bad_at is not None:
                with pytest.raises(InvalidInput) as err:
                    ondo.data.add(src, name=name)
                results.append((label, err.value.line))
                continue
            v = ondo.data.add(src, name=name)
        entry = v.manifest.by_path()["a.jsonl"]
        index = load_index(ws.blobs, entry.rows or "")
        results.append((label, entry.digest, [(g.count, g.span, g.hash) for g in index.groups], entry.columns))
        assert [json.dumps(r) for r in v.rows()] == [line for line in edited if line.strip()]
    if bad_at is not None:
        assert {line for _, line in results} == {bad_at + 1}
        return
    if edited and edited != lines:
        assert "big" in taken and "none" not in taken  # the bulk walk was used, and only where allowed
    fresh_src = tmp_path / "fresh" / uuid.uuid4().hex / "a.jsonl"
    fresh_src.parent.mkdir(parents=True)
    fresh_src.write_text(text)
    fresh = ondo.data.add(fresh_src, name=f"f{uuid.uuid4().hex[:8]}").manifest.by_path()["a.jsonl"]
    assert {r[1] for r in results} == {fresh.digest}
    assert results[0][2:] == results[1][2:] == results[2][2:]


def _small_groups(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool, rows: list[dict[str, object]]
) -> tuple[Path, list[dict[str, object]], list[Group]]:
    """A first version "g" of ``rows`` cut into groups of about 16 rows; ``bulk`` False: later walks go row by row."""
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 16)
    if not bulk:
        monkeypatch.setattr(ingest, "_bulk_lines", lambda *a: None)
    src = write_jsonl(tmp_path / "a.jsonl", rows)
    age(src)
    v1 = ondo.data.add(src, name="g")
    return src, rows, load_index(ws.blobs, v1.manifest.by_path()["a.jsonl"].rows or "").groups


@pytest.mark.parametrize("bulk", [True, False])
def test_the_old_last_group_is_not_taken_where_the_file_goes_on(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """The old file's last group ended where the file did, not where the rule cuts: found again in
    the middle of a longer file (an edit before it, rows appended after it), it must be regrouped,
    or the digest would depend on the history."""
    src, rows, old = _small_groups(ws, tmp_path, monkeypatch, bulk, _rows(4, 400))
    before_last, last = old[-2:]
    at = before_last.start + 1  # in the group before the last: the walk goes row by row up to the last one
    edited: list[dict[str, Any]] = [*rows[:at], {"id": "edited"}, *rows[at + 1 :], *_rows(5, 40)]
    write_jsonl(src, edited)
    age(src)
    v2 = ondo.data.add(src, name="g")
    fresh = ondo.data.add(write_jsonl(tmp_path / "b" / "a.jsonl", edited), name="fresh")
    assert v2.manifest.by_path()["a.jsonl"].digest == fresh.manifest.by_path()["a.jsonl"].digest
    groups = load_index(ws.blobs, v2.manifest.by_path()["a.jsonl"].rows or "").groups
    assert last.entries not in {g.entries for g in groups} or groups[-1].entries == last.entries


@pytest.mark.parametrize("bulk", [True, False])
def test_a_group_after_a_deleted_one_is_reused_as_it_was(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """Deleting a whole group leaves the next one starting where the walk stands: it is the old group,
    kept with its stored bytes (so later re-adds compare it), not rebuilt from its rows."""
    src, rows, old = _small_groups(ws, tmp_path, monkeypatch, bulk, _rows(6, 600))
    gone = old[2]
    write_jsonl(src, [*rows[: gone.start], *rows[gone.start + gone.count :]])
    age(src)
    v2 = ondo.data.add(src, name="g")
    new = load_index(ws.blobs, v2.manifest.by_path()["a.jsonl"].rows or "").groups
    assert [g.entries for g in new] == [g.entries for g in old if g is not gone]
    assert all(g.body is not None for g in new)
