"""Row files: formats, exact rebuilds, and malformed rows reported with file and line."""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from dataset_files import write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ondo
from ondo.errors import InvalidInput
from ondo.workspace import Workspace

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_value = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), _text,
                   st.lists(st.integers(0, 9), max_size=3))
_row = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), _value, min_size=1, max_size=5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(_row, max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    final=st.booleans(),
    ascii_only=st.booleans(),
)
def test_jsonl_roundtrip_is_byte_exact(
    ws: Workspace, tmp_path: Path, rows: list[dict[str, object]], newline: str, final: bool, ascii_only: bool
) -> None:
    name = "h" + uuid.uuid4().hex[:10]
    src = tmp_path / f"{name}.jsonl"
    text = newline.join(json.dumps(r, ensure_ascii=ascii_only) for r in rows) + (newline if final and rows else "")
    src.write_bytes(text.encode())
    v = ondo.data.add(src, name=name)
    assert list(v.rows()) == rows
    out = tmp_path / f"{name}-out"
    v.checkout(out)
    assert (out / src.name).read_bytes() == src.read_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
                                       max_size=12), min_size=3, max_size=3), max_size=25))
def test_csv_roundtrip_with_quotes_and_newlines(ws: Workspace, tmp_path: Path, rows: list[list[str]]) -> None:
    name = "c" + uuid.uuid4().hex[:10]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["a", "b", "c"])
    w.writerows(rows)
    src = tmp_path / f"{name}.csv"
    src.write_bytes(buf.getvalue().encode())
    v = ondo.data.add(src, name=name)
    assert [[r["a"], r["b"], r["c"]] for r in v.rows()] == [
        r for r in csv.reader(io.StringIO(buf.getvalue()))
    ][1:]
    out = tmp_path / f"{name}-out"
    v.checkout(out)
    assert (out / src.name).read_bytes() == src.read_bytes()


@pytest.mark.parametrize(
    "rel",
    [
        "truthfulqa/TruthfulQA.csv",  # UTF-8 BOM, quoted fields
        "korean/korsts/sts-test.tsv",
        "korean/kornli/xnli.test.ko.tsv",
        "mmlu/dev/anatomy_dev.csv",  # no header row: the first row is read as the header
        "korean/horangi_mini/squad_kor_v1_mini.jsonl",
        "mt_bench/question.jsonl",
    ],
)
def test_real_files_rebuild_exactly(ws: Workspace, shared_data: Path, tmp_path: Path, rel: str) -> None:
    src = tmp_path / Path(rel).name
    shutil.copyfile(shared_data / rel, src)
    v = ondo.data.add(src, name="real")
    [entry] = v.files
    assert entry.kind == "rows" and entry.layout is not None  # rebuilt from rows, not kept whole
    out = tmp_path / "out"
    v.checkout(out)
    assert (out / src.name).read_bytes() == src.read_bytes()
    raw = src.read_bytes().decode("utf-8-sig")
    if src.suffix == ".jsonl":
        assert v.row_count == len([line for line in raw.splitlines() if line.strip()])
    else:
        delim = "\t" if src.suffix == ".tsv" else ","
        quoting = csv.QUOTE_NONE if src.suffix == ".tsv" else csv.QUOTE_MINIMAL
        expected = list(csv.reader(io.StringIO(raw), delimiter=delim, quoting=quoting))
        assert v.row_count == len(expected) - 1
        assert entry.columns == expected[0]
        assert [list(r.values()) for r in v.rows()] == expected[1:]


def test_malformed_jsonl_line_stops_add_with_file_and_line(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "broken.jsonl"
    src.write_text('{"a": 1}\n{"a": 2}\n{"a": 3,,}\n{"a": 4}\n')
    with pytest.raises(InvalidInput) as err:
        ondo.data.add(src, name="broken")
    assert err.value.file == str(src) and err.value.line == 3
    assert f"{src}:3" in str(err.value)
    assert ondo.data.list() == []


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('{"a": 1}\n[1, 2]\n', 2, "JSON object"),
        ('{"a": 1}\n\n{"a": 2\n', 3, "malformed JSON"),
        ('{"a": "\xff"}\n', 1, "UTF-8"),
    ],
)
def test_jsonl_errors(ws: Workspace, tmp_path: Path, body: str, line: int, reason: str) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_bytes(body.encode("latin-1") if "\xff" in body else body.encode())
    with pytest.raises(InvalidInput, match=reason) as err:
        ondo.data.add(src, name="bad")
    assert err.value.line == line


def test_csv_bad_row_line_counts_physical_lines(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text('id,text\n1,"two\nlines"\n2,fine\n3,too,many\n')
    with pytest.raises(InvalidInput, match="expected 2 fields, got 3") as err:
        ondo.data.add(src, name="t")
    assert err.value.line == 5 and err.value.file == str(src)


def test_skip_bad_rows_counts_them_in_the_profile(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_text('{"a": 1}\nnot json\n{"a": 2}\n{"a": \n{"a": 3}\n')
    v = ondo.data.add(src, name="mixed", skip_bad_rows=True)
    assert v.row_count == 3 and v.bad_rows == 2
    assert [r["a"] for r in v.rows()] == [1, 2, 3]
    prof = v.profile
    assert prof["bad_rows"] == 2
    assert [(s["file"], s["line"]) for s in prof["bad_row_samples"]] == [("mixed.jsonl", 2), ("mixed.jsonl", 4)]
    out = tmp_path / "out"
    v.checkout(out)  # the file is kept whole, bad lines included
    assert (out / "mixed.jsonl").read_bytes() == src.read_bytes()


def test_blank_lines_are_not_rows_and_file_still_rebuilds(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "gaps.jsonl"
    src.write_text('{"a": 1}\n\n  \n{"a": 2}\n')
    v = ondo.data.add(src, name="gaps")
    assert [r["a"] for r in v.rows()] == [1, 2]
    out = tmp_path / "out"
    v.checkout(out)
    assert (out / "gaps.jsonl").read_bytes() == src.read_bytes()


def test_parquet_rows(ws: Workspace, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"id": [1, 2, 3], "text": ["안녕", "hello", None], "score": [0.5, 1.5, 2.5]})
    src = tmp_path / "t.parquet"
    pq.write_table(table, src)
    v1 = ondo.data.add(src, name="pq")
    assert v1.row_count == 3 and v1.files[0].columns == ["id", "text", "score"]
    assert list(v1.rows()) == table.to_pylist()
    df = v1.to_pandas()
    assert df["id"].tolist() == [1, 2, 3] and df["score"].tolist() == [0.5, 1.5, 2.5]
    pq.write_table(pa.table({"id": [1, 2, 4], "text": ["안녕", "hello", "new"], "score": [0.5, 1.5, 9.0]}), src)
    v2 = ondo.data.add(src, name="pq")
    d = ondo.data.diff("pq@v1", "pq@v2", key="id")
    assert (d.rows_added, d.rows_removed, d.rows_changed, d.rows_unchanged) == (1, 1, 0, 2)
    out = tmp_path / "out"
    v2.checkout(out)
    assert (out / "t.parquet").read_bytes() == src.read_bytes()


def test_jsonl_written_by_helper_has_expected_columns(ws: Workspace, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "cols.jsonl", [{"a": 1}, {"b": 2, "a": 3}, {"c": None}])
    v = ondo.data.add(src, name="cols")
    assert v.columns == ["a", "b", "c"]


_edit = st.tuples(st.sampled_from(["insert", "delete", "change", "blank", "dup"]), st.integers(0, 10_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(0, 60),
    edits=st.lists(_edit, max_size=6),
    newline=st.sampled_from(["\n", "\r\n"]),
    final=st.booleans(),
)
def test_readd_after_random_edits_reuses_groups_correctly(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    n: int, edits: list[tuple[str, int]], newline: str, final: bool,
) -> None:
    """Small groups (4 rows) so a few dozen rows span many: every edit lands near a group boundary."""
    from ondo.datasets import ingest

    monkeypatch.setattr(ingest, "CHUNK_ROWS", 4)
    name = "e" + uuid.uuid4().hex[:10]
    src = tmp_path / f"{name}.jsonl"

    def write(lines: list[str]) -> None:
        src.write_bytes((newline.join(lines) + (newline if final and lines else "")).encode())

    lines = [json.dumps({"i": i}) for i in range(n)]
    write(lines)
    ondo.data.add(src, name=name)
    for k, (op, at) in enumerate(edits):
        pos = at % (len(lines) + 1)
        if op == "insert":
            lines.insert(pos, json.dumps({"new": k}))
        elif op == "delete" and lines:
            del lines[min(pos, len(lines) - 1)]
        elif op == "change" and lines:
            lines[min(pos, len(lines) - 1)] = json.dumps({"changed": k})
        elif op == "blank":
            lines.insert(pos, "")
        elif op == "dup" and lines:
            lines.insert(pos, lines[min(pos, len(lines) - 1)])
    write(lines)
    v = ondo.data.add(src, name=name)
    assert [r for r in v.rows()] == [json.loads(line) for line in lines if line.strip()]
    out = tmp_path / f"{name}-out"
    v.checkout(out)
    assert (out / src.name).read_bytes() == src.read_bytes()
    assert ondo.data.verify(v.ref).ok


def test_readds_compare_groups_with_their_stored_bytes(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first add stores a JSONL body whole and later versions keep the groups they did not change,
    so every re-add, not only the first, finds unchanged groups by comparing bytes: only the group
    around each edit is hashed, even after the edited row grew and shifted the rest of the file."""
    from ondo.datasets import ingest

    monkeypatch.setattr(ingest, "CHUNK_ROWS", 4)
    compared: list[bool | None] = []
    real_same = ingest._OldBytes.same
    real_run = ingest._OldBytes.same_run

    def same(self: ingest._OldBytes, g: Any, now: Any, pos: int) -> bool | None:
        out = real_same(self, g, now, pos)
        compared.append(out)
        return out

    def same_run(self: ingest._OldBytes, groups: Any, now: Any, pos: int) -> list[bool | None]:
        out = real_run(self, groups, now, pos)
        compared.extend(out)
        return out

    monkeypatch.setattr(ingest._OldBytes, "same", same)
    monkeypatch.setattr(ingest._OldBytes, "same_run", same_run)
    hashed: list[int] = []
    real_chunk_at = ingest._chunk_at

    def chunk_at(mv: memoryview, n: int, pos: int, g: object, known: bool = False, last: bool = False) -> bool:
        if not known:
            hashed.append(pos)
        return real_chunk_at(mv, n, pos, g, known, last)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "_chunk_at", chunk_at)
    src = tmp_path / "cmp.jsonl"
    lines = [json.dumps({"i": i, "text": "x" * (i % 7)}) for i in range(300)]
    src.write_text("\n".join(lines) + "\n")
    ondo.data.add(src, name="cmp")
    for k, at in enumerate((101, 250, 30)):
        lines[at] = json.dumps({"i": at, "text": "a longer edited value " + "y" * k})
        src.write_text("\n".join(lines) + "\n")
        compared.clear()
        hashed.clear()
        v = ondo.data.add(src, name="cmp")
        assert compared.count(True) > 20  # most groups: compared with their old bytes, not hashed
        assert len(hashed) <= 4 * (k + 1)  # groups rebuilt by this or an earlier re-add have no copy: hashed
        assert [r["i"] for r in v.rows()] == list(range(300))
        out = tmp_path / f"out{k}"
        v.checkout(out)
        assert (out / "cmp.jsonl").read_bytes() == src.read_bytes()
    assert ondo.data.verify("cmp").ok
