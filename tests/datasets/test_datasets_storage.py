"""How an add stores bytes: stores written by earlier code still read, and a failed write leaves
nothing behind and says what failed."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dataset_files import age, write_jsonl

import ondo
from ondo.blobs import digest_bytes, is_pack
from ondo.blobs.direct import DirectAppender
from ondo.datasets import ingest, locations, versions, workers
from ondo.store.tables.datasets import dataset_file_locations
from ondo.workspace import Workspace


def _files(folder: Path, n: int) -> None:
    for i in range(n):
        (folder / "files" / f"f{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        (folder / "files" / f"f{i}.txt").write_text(f"small file {i}\n" * (i + 1))


def test_a_store_from_before_reads_verifies_and_grows(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier stores named file packs by the sha256 of their bytes and cut 1,024-row groups; both
    must keep reading, verifying and checking out, and a re-add on top must mix in new groups."""
    folder = tmp_path / "d"
    _files(folder, 6)
    rows = [{"id": i, "text": f"row {i}"} for i in range(3000)]
    write_jsonl(folder / "rows.jsonl", rows)
    age(folder)
    with monkeypatch.context() as m:
        m.setattr(ingest, "CHUNK_ROWS", 1024)
        v1 = ondo.data.add(folder, name="old")
    # rename the file pack the way earlier code named it, and point its locations there
    with ws.read() as conn:
        where = locations.lookup(conn, [f.digest for f in v1.files if f.packed])
    [pack] = {p for p, _, _ in where.values()}
    assert is_pack(pack)
    body = Path(ws.blobs.path_of(pack)).read_bytes()
    old_name = digest_bytes(body)
    ws.blobs.put_bytes(body)
    Path(ws.blobs.path_of(pack)).unlink()
    t = dataset_file_locations
    ws.write(lambda conn: conn.execute(sa.update(t).where(t.c.pack == pack).values(pack=old_name)))

    assert ondo.data.verify("old").ok
    out = tmp_path / "out1"
    v1.checkout(out)
    assert (out / "files" / "f5.txt").read_bytes() == (folder / "files" / "f5.txt").read_bytes()
    assert (out / "rows.jsonl").read_bytes() == (folder / "rows.jsonl").read_bytes()

    rows[2500] = {**rows[2500], "text": "edited"}
    rows.append({"id": 3000, "text": "new"})
    write_jsonl(folder / "rows.jsonl", rows)
    v2 = ondo.data.add(folder, name="old")  # 8,192-row groups now, after the old 1,024-row ones
    assert v2.version == 2 and ondo.data.verify().ok
    out2 = tmp_path / "out2"
    v2.checkout(out2)
    assert (out2 / "rows.jsonl").read_bytes() == (folder / "rows.jsonl").read_bytes()
    assert [r["text"] for r in v2.rows()][2500] == "edited"


def test_a_failed_pack_write_says_why_and_leaves_no_file(ws: Workspace, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "d"
    _files(folder, 5)
    real = DirectAppender._write
    calls = {"n": 0}

    def full_disk(self: DirectAppender, view: memoryview) -> int:
        calls["n"] += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(DirectAppender, "_write", full_disk)
    with pytest.raises(OSError) as caught:
        workers.store_files(ws.blobs.url, sorted(str(p) for p in (folder / "files").iterdir()), 1 << 20)
    assert caught.value.errno == errno.ENOSPC and calls["n"] == 1  # the disk's error, not a follow-on one
    assert os.listdir(Path(ws.blobs.root) / "tmp") == []
    monkeypatch.setattr(DirectAppender, "_write", real)
    assert ondo.data.add(folder, name="after").file_count == 5  # nothing left half-written in the way


def test_close_and_abort_are_idempotent(tmp_path: Path) -> None:
    out = DirectAppender(str(tmp_path / "a.bin"))
    out.write(b"abc")
    out.close()
    out.close()
    out.abort()
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    with pytest.raises(ValueError, match="closed"):
        out.write(b"more")
