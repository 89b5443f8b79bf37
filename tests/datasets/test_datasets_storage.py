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


def test_early_hashing_is_bounded_and_gives_the_same_versions(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changed row files are hashed ahead only a few at a time (each holds a descriptor), and the
    versions they make are the ones the ordinary path makes."""
    folder = tmp_path / "shards"
    for i in range(12):
        write_jsonl(folder / f"shard{i:02d}.jsonl", ({"shard": i, "n": j} for j in range(20)))
    age(folder)
    ondo.data.add(folder, name="shards")
    for i in range(12):
        write_jsonl(folder / f"shard{i:02d}.jsonl", ({"shard": i, "n": j} for j in range(21)))  # new size
    age(folder)
    started: list[int] = []
    real_start = versions._start_digests

    def counting_start(*a: Any) -> Any:
        out = real_start(*a)
        started.append(len(out))
        return out

    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)  # these shards are small: let them count
    monkeypatch.setattr(versions, "_start_digests", counting_start)
    v2 = ondo.data.add(folder, name="shards")
    assert started == [versions._EARLY_FILES] and v2.version == 2
    out = tmp_path / "out"
    v2.checkout(out)
    for i in range(12):
        name = f"shard{i:02d}.jsonl"
        assert (out / name).read_bytes() == (folder / name).read_bytes()
        assert v2.manifest.by_path()[name].digest == digest_bytes((folder / name).read_bytes())


def test_early_hashing_of_a_single_file_dataset(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_jsonl(tmp_path / "one.jsonl", ({"n": j} for j in range(50)))
    age(src)
    ondo.data.add(src, name="one")
    write_jsonl(src, ({"n": j} for j in range(51)))
    age(src)
    started: list[list[str]] = []
    real_start = versions._start_digests

    def recording_start(*a: Any) -> Any:
        out = real_start(*a)
        started.append(sorted(out))
        return out

    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)
    monkeypatch.setattr(versions, "_start_digests", recording_start)
    v2 = ondo.data.add(src, name="one")
    assert started == [["one.jsonl"]] and v2.version == 2 and v2.row_count == 51
    assert v2.manifest.by_path()["one.jsonl"].digest == digest_bytes(src.read_bytes())


def test_a_file_replaced_after_its_early_hash_is_read_again(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rsync and `cp -p` + `mv` replace a file with one whose mtime is old: if that happens between the
    early hash and the listing, the version must hold the file the listing saw, so that the stat
    cache's entry (that stat, this digest) is true."""
    folder = tmp_path / "d"
    target = write_jsonl(folder / "rows.jsonl", ({"n": j} for j in range(40)))
    age(folder)
    ondo.data.add(folder, name="swap")
    write_jsonl(target, ({"n": j} for j in range(41)))  # a new size: hashed early
    age(folder)
    replacement = write_jsonl(tmp_path / "b.jsonl", ({"b": j} for j in range(45)))
    old = time.time_ns() - 3600 * 10**9
    os.utime(replacement, ns=(old, old))
    real_scan = versions.scan

    def replace_then_scan(*a: Any) -> Any:
        os.replace(replacement, target)  # after the early map, before the listing
        return real_scan(*a)

    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)
    monkeypatch.setattr(versions, "scan", replace_then_scan)
    v2 = ondo.data.add(folder, name="swap")
    monkeypatch.setattr(versions, "scan", real_scan)
    on_disk = target.read_bytes()
    assert v2.manifest.by_path()["rows.jsonl"].digest == digest_bytes(on_disk)
    assert [r["b"] for r in v2.rows()] == list(range(45))
    again = ondo.data.add(folder, name="swap")
    assert again.version == v2.version
