"""Worker processes (forked for large adds) give exactly what the in-process path gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dataset_files import write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

import ondo
from ondo.datasets import versions, workers
from ondo.errors import InvalidInput
from ondo.workspace import Workspace

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="worker processes are forked (Linux)")


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "SEGMENT_BYTES", 2000)
    monkeypatch.setattr(workers, "MIN_PARALLEL_SCAN", 2 * 2000)
    monkeypatch.setattr(versions, "MIN_PARALLEL_FILES", 2)


def _folder(tmp_path: Path, newline: str = "\n") -> Path:
    folder = tmp_path / "data"
    write_jsonl(folder / "rows.jsonl", ({"i": i, "t": "가나다 abc" * (i % 7)} for i in range(3000)), newline)
    for i in range(12):
        (folder / f"f{i}.bin").write_bytes(os.urandom(3000 + i))
    return folder


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_parallel_add_equals_serial_add(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str
) -> None:
    folder = _folder(tmp_path, newline)
    serial = ondo.data.add(folder, name="serial")
    monkeypatch.setattr(workers, "SEGMENT_BYTES", 2000)
    monkeypatch.setattr(workers, "MIN_PARALLEL_SCAN", 2 * 2000)
    monkeypatch.setattr(versions, "MIN_PARALLEL_FILES", 2)
    calls: list[int] = []
    real = workers.scan_lines_parallel

    def spy(body: bytes, *a: object) -> list[workers.LineScan]:
        out = real(body, *a)  # type: ignore[arg-type]
        calls.append(len(out))
        return out

    monkeypatch.setattr("ondo.datasets.ingest.scan_lines_parallel", spy)
    parallel = ondo.data.add(folder, name="parallel")
    assert calls and calls[0] > 1  # the JSONL really was scanned in several segments
    assert parallel.digest == serial.digest
    out = tmp_path / "out"
    parallel.checkout(out)
    for f in folder.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes()
    assert ondo.data.verify().ok


def test_parallel_bad_row_reports_the_right_line(ws: Workspace, tmp_path: Path, small_thresholds: None) -> None:
    src = tmp_path / "big.jsonl"
    lines = [f'{{"i": {i}}}' for i in range(4000)]
    lines[3123] = '{"i": broken}'
    lines[3500] = "[1]"
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput) as err:
        ondo.data.add(src, name="big")
    assert err.value.line == 3124 and "malformed JSON" in str(err.value)
    v = ondo.data.add(src, name="big", skip_bad_rows=True)
    assert v.row_count == 3998 and v.bad_rows == 2
    assert [s["line"] for s in v.profile["bad_row_samples"]] == [3124, 3501]
    assert [r["i"] for r in v.rows()][3122:3124] == [3122, 3124]


_ROW = st.dictionaries(st.sampled_from(["id", "q", "a", "키"]), st.one_of(st.integers(), st.text(max_size=12)), max_size=4)


@given(
    rows=st.lists(st.one_of(_ROW.map(lambda d: json.dumps(d, ensure_ascii=False)), st.sampled_from(["", "[1]", "{x"])),
                  max_size=40),
    final=st.booleans(),
    piece=st.integers(1, 200),
)
@settings(max_examples=150, deadline=None)
def test_a_scan_in_pieces_finds_what_a_scan_line_by_line_finds(rows: list[str], final: bool, piece: int) -> None:
    """The clean-JSONL scan goes a piece at a time; whatever the pieces, it gives what the
    line-by-line loop gives, or hands the run to that loop."""
    body = "\n".join(rows).encode() + (b"\n" if final and rows else b"")
    by_line = workers.LineScan()
    lines = body.split(b"\n")
    by_line.final = lines[-1] == b""
    if by_line.final:
        lines.pop()
    by_line.n = len(lines)
    workers._scan_each(lines, "jsonl", [], False, by_line)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(workers, "_PIECE_BYTES", piece)
        got = workers.scan_lines(body, "jsonl", [], False)
    assert got == by_line
