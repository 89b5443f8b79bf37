"""How an add stores bytes: stores written by earlier code still read, and a failed write leaves
nothing behind and says what failed."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from dataset_files import age, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st

import ondo
from ondo.blobs import digest_bytes, is_pack
from ondo.blobs.direct import DirectAppender
from ondo.datasets import ingest, locations, versions, workers
from ondo.datasets import repository as repo
from ondo.datasets.ingest import digest_list
from ondo.datasets.manifest import Manifest
from ondo.datasets.packs import (
    INDEX_MAGIC_V1,
    ROWS_DIGEST,
    RowList,
    body_pack_name,
    load_index,
    load_rows,
    referenced_blobs,
)
from ondo.errors import InvalidInput, StoreError
from ondo.store.tables.datasets import dataset_file_locations, dataset_stat_cache, dataset_versions
from ondo.workspace import Workspace


def _files(folder: Path, n: int) -> None:
    for i in range(n):
        (folder / "files" / f"f{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        (folder / "files" / f"f{i}.txt").write_text(f"small file {i}\n" * (i + 1))


def _to_old_format(ws: Workspace, name: str, folder: Path, rel: str) -> str:
    """Rewrite the latest version of ``name`` as earlier code wrote it; returns the digest of the
    row file ``rel``'s body blob.

    Earlier code named a row file by the sha256 of its bytes and stored a first add's body as a
    blob under that same sha256; its row index (``INDEX_MAGIC_V1``, no "rule") cut a group every
    1,024 rows; its manifest said "ondo.dataset/1". The body, groups, index, manifest and version
    row are rewritten that way (the groups' rows keep their offsets, so only the pack name changes)."""
    with ws.read() as conn:
        row = repo.latest(conn, name)
    assert row is not None
    manifest = Manifest.decode(ws.blobs.get_bytes(row.digest))
    entry = manifest.by_path()[rel]
    assert entry.rows is not None and entry.layout is not None and not entry.layout.prefix
    assert entry.digest.startswith(ROWS_DIGEST)
    data = (folder / rel).read_bytes()
    new_pack = body_pack_name(entry.digest)
    rl = load_rows(ws.blobs, entry.rows)
    assert rl.packs == [new_pack]
    assert Path(ws.blobs.path_of(new_pack)).read_bytes() == data  # JSONL: no prefix, the body is the file

    body = ws.blobs.put_bytes(data)  # the whole file, named by its sha256
    assert body == digest_bytes(data)
    Path(ws.blobs.path_of(new_pack)).unlink()
    firsts = digest_list(rl.digests)
    offsets = rl.offsets.tolist()
    n = len(rl)
    groups = []
    for s in range(0, n, 1024):  # cut by count, as before
        e = min(s + 1024, n)
        lo, hi = offsets[s], offsets[e] if e < n else len(data)
        part = RowList(rl.digests[s:e], rl.pack_idx[s:e], rl.offsets[s:e], rl.lengths[s:e], [body])
        blob = ingest.put_small(ws.blobs, part.encode_group())
        groups.append([s, e - s, blob, firsts[s].hex(), hi - lo, e - s, hashlib.sha256(data[lo:hi]).hexdigest()])
    header = {"count": n, "groups": groups}
    index = ingest.put_small(ws.blobs, INDEX_MAGIC_V1 + json.dumps(header, separators=(",", ":")).encode())

    stale = entry.digest
    entry.digest, entry.rows = body, index
    encoded = manifest.encode()
    assert encoded.count(b'"format":"ondo.dataset/2"') == 1
    old_digest = ws.blobs.put_bytes(encoded.replace(b'"format":"ondo.dataset/2"', b'"format":"ondo.dataset/1"'))
    tv, ts = dataset_versions, dataset_stat_cache

    def rewrite(conn: sa.Connection) -> None:
        conn.execute(sa.update(tv).where(tv.c.id == row.id).values(digest=old_digest))
        conn.execute(sa.update(ts).where(ts.c.digest == stale).values(digest=body))  # what earlier adds cached

    ws.write(rewrite)
    versions._manifests.clear()
    shutil.rmtree(ws.settings.home / "cache" / "statsnap", ignore_errors=True)  # taken for the replaced version
    return body


def _old_version(ws: Workspace, folder: Path) -> tuple[list[dict[str, Any]], str]:
    """Version 1 of "old", stored as earlier code stored it: its rows and its row file's body blob."""
    _files(folder, 6)
    rows = [{"id": i, "text": f"row {i}"} for i in range(3000)]
    write_jsonl(folder / "rows.jsonl", rows)
    age(folder)
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
    return rows, _to_old_format(ws, "old", folder, "rows.jsonl")


def test_a_store_from_before_reads_verifies_and_grows(ws: Workspace, tmp_path: Path) -> None:
    """Earlier stores named file packs by the sha256 of their bytes, named a row file and its body
    blob by the sha256 of its bytes, cut 1,024-row groups and wrote "ondo.dataset/1" manifests; all
    of it must keep reading, verifying and checking out, and a re-add on top must work."""
    folder = tmp_path / "d"
    rows, body = _old_version(ws, folder)
    jsonl = (folder / "rows.jsonl").read_bytes()

    v1 = ondo.data.get("old@v1")
    raw = json.loads(ws.blobs.get_bytes(v1.digest))
    assert raw["format"] == "ondo.dataset/1"
    entry = v1.manifest.by_path()["rows.jsonl"]
    assert entry.digest == body == "sha256:" + hashlib.sha256(jsonl).hexdigest()
    assert entry.rows is not None and ws.blobs.get_bytes(entry.rows).startswith(INDEX_MAGIC_V1)
    index = load_index(ws.blobs, entry.rows)
    assert index.rule is None and [g.count for g in index.groups] == [1024, 1024, 952]
    assert referenced_blobs(ws.blobs, entry.rows)[body] == "row pack"
    assert not any(is_pack(b) for b in referenced_blobs(ws.blobs, entry.rows))

    report = ondo.data.verify("old")
    assert report.ok, report.problems
    out = tmp_path / "out1"
    v1.checkout(out)
    assert (out / "files" / "f5.txt").read_bytes() == (folder / "files" / "f5.txt").read_bytes()
    assert (out / "rows.jsonl").read_bytes() == jsonl
    assert [r["text"] for r in v1.rows()] == [r["text"] for r in rows]
    # nothing changed: the old version itself, though a manifest written now would be format 2
    assert ondo.data.add(folder, name="old").version == 1
    # the same bytes added now get a rows digest; a diff still sees the same file
    fresh = ondo.data.add(folder, name="fresh")
    assert fresh.manifest.by_path()["rows.jsonl"].digest != v1.manifest.by_path()["rows.jsonl"].digest
    same = ondo.data.diff("old@v1", "fresh@v1")
    assert (same.files_changed, same.rows_added, same.rows_removed) == ([], 0, 0)

    rows[2500] = {**rows[2500], "text": "edited"}
    rows.append({"id": 3000, "text": "new"})
    write_jsonl(folder / "rows.jsonl", rows)
    v2 = ondo.data.add(folder, name="old")  # the old index's groups were cut otherwise: the file is read again
    assert v2.version == 2 and v2.created
    report = ondo.data.verify()
    assert report.ok, report.problems
    assert report.versions == ["fresh@v1", "old@v1", "old@v2"]
    out2 = tmp_path / "out2"
    v2.checkout(out2)
    assert (out2 / "rows.jsonl").read_bytes() == (folder / "rows.jsonl").read_bytes()
    assert (out2 / "files" / "f5.txt").read_bytes() == (folder / "files" / "f5.txt").read_bytes()
    e2 = v2.manifest.by_path()["rows.jsonl"]
    assert e2.digest.startswith(ROWS_DIGEST) and e2.rows is not None
    assert load_index(ws.blobs, e2.rows).rule is not None
    assert [r["text"] for r in v2.rows()][2500] == "edited"
    assert [r["text"] for r in v2.rows()] == [r["text"] for r in rows]
    out3 = tmp_path / "out3"  # the old version still checks out as it was
    ondo.data.checkout("old@v1", out3)
    assert (out3 / "rows.jsonl").read_bytes() == jsonl


def test_a_corrupted_body_blob_from_before_is_reported(ws: Workspace, tmp_path: Path) -> None:
    """In an earlier store a row file's rows sit in a blob named by the sha256 of the whole file;
    a flipped byte there is found by verify, and a checkout refuses to rebuild the file."""
    folder = tmp_path / "d"
    _, body = _old_version(ws, folder)
    assert ondo.data.verify("old").ok
    path = Path(ws.blobs.path_of(body))
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))

    report = ondo.data.verify("old")
    assert not report.ok
    assert {(p["path"], p["blob"], p["status"]) for p in report.problems} == {("rows.jsonl", body, "corrupted")}
    with pytest.raises(StoreError):
        ondo.data.checkout("old@v1", tmp_path / "out")


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


@pytest.mark.parametrize("bad", [False, True])
def test_a_big_body_is_written_while_its_lines_are_scanned(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: bool
) -> None:
    """A first add has worker processes scan a big line file and writes its body meanwhile under a
    temporary name; a bad line leaves no temporary file and no version."""
    monkeypatch.setattr(ingest, "_EARLY_BODY_BYTES", 0)
    monkeypatch.setattr(workers, "SEGMENT_BYTES", 4096)
    monkeypatch.setattr(workers, "MIN_PARALLEL_SCAN", 2 * 4096)
    rows = [{"id": i, "text": f"row {i} " * (i % 5)} for i in range(3000)]
    src = write_jsonl(tmp_path / "big.jsonl", rows)
    if bad:
        text = src.read_text().splitlines()
        text[2500] = '{"id": 2500, oops'
        src.write_text("\n".join(text) + "\n")
        with pytest.raises(InvalidInput) as err:
            ondo.data.add(src, name="big")
        assert err.value.line == 2501
        assert ondo.data.list() == []
    else:
        v = ondo.data.add(src, name="big")
        entry = v.manifest.by_path()["big.jsonl"]
        assert Path(ws.blobs.path_of(body_pack_name(entry.digest))).read_bytes() == src.read_bytes()
        out = tmp_path / "out"
        v.checkout(out)
        assert (out / "big.jsonl").read_bytes() == src.read_bytes()
        assert ondo.data.verify("big").ok
    tmp_dir = Path(ws.blobs.root) / "tmp"
    assert not tmp_dir.exists() or list(tmp_dir.iterdir()) == []


@pytest.mark.parametrize("readd", [False, True])
def test_a_file_written_to_while_it_is_added_is_refused(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readd: bool
) -> None:
    """Parts of a file read at different moments (a re-add maps it) would not be one file: a write
    during the add (seen in the inode's ctime) fails the add, and no version is made."""
    src = write_jsonl(tmp_path / "w.jsonl", ({"n": j} for j in range(500)))
    if readd:
        ondo.data.add(src, name="w")
        write_jsonl(src, ({"n": j} for j in range(501)))
    real = versions.ingest_text_rows

    def write_meanwhile(*a: Any, **k: Any) -> Any:
        out = real(*a, **k)
        with open(src, "r+b") as f:  # same bytes, same size: only the ctime tells
            f.write(f.read(1))
        return out

    monkeypatch.setattr(versions, "ingest_text_rows", write_meanwhile)
    with pytest.raises(InvalidInput, match="changed while it was being added") as err:
        ondo.data.add(src, name="w")
    assert err.value.file is not None and err.value.file.endswith("w.jsonl")
    if readd:
        assert [v.version for v in ondo.data.versions_of("w")] == [1]
    else:
        assert ondo.data.list() == []


def test_files_of_one_pack_are_read_in_place_and_stored_once(ws: Workspace, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A pack's files go straight into its write buffer: equal files are stored once where the
    first copy is still buffered, and checked out exactly either way, across buffer boundaries."""
    monkeypatch.setattr(workers, "_PACK_BUFFER", 8192)  # every boundary gets crossed
    folder = tmp_path / "d" / "files"
    folder.mkdir(parents=True)
    same = os.urandom(3000)
    bodies = [same, os.urandom(5000), same, os.urandom(7000), same, b"", same]
    for i, b in enumerate(bodies):
        (folder / f"f{i}.bin").write_bytes(b)
    paths = sorted(str(p) for p in folder.iterdir())
    results, pack = workers.store_files(ws.blobs.url, paths, 1 << 20)
    assert pack is not None
    offsets = {d: o for d, _, _, o in results}
    with ws.blobs.open(pack) as f:
        packed = f.read()
    for (d, size, _, off), b in zip(results, bodies, strict=True):
        assert size == len(b) and d == digest_bytes(b) and packed[off : off + size] == b
        assert off == offsets[d]  # one location per content
    assert len(packed) < sum(map(len, bodies))  # a copy or more of `same` was taken back
    v = ondo.data.add(tmp_path / "d", name="same")
    v.checkout(tmp_path / "out")
    for i, b in enumerate(bodies):
        assert (tmp_path / "out" / "files" / f"f{i}.bin").read_bytes() == b


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds a descriptor's file through /proc")
def test_a_file_whose_size_changes_while_it_is_read_is_reported(ws: Workspace, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "d"
    _files(folder, 3)
    real = os.fstat

    def stale(fd: int) -> os.stat_result:  # as if the file grew after it was opened
        st = real(fd)
        if os.readlink(f"/proc/self/fd/{fd}").endswith("f1.txt"):
            return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid,
                                   st.st_size - 3, int(st.st_atime), int(st.st_mtime), int(st.st_ctime)))
        return st

    monkeypatch.setattr(workers.os, "fstat", stale)
    with pytest.raises(InvalidInput, match="changed while it was being added") as caught:
        ondo.data.add(folder, name="moving")
    assert caught.value.file == os.path.join(str(folder), "files", "f1.txt")  # as given, then the path inside
    monkeypatch.setattr(workers.os, "fstat", real)
    assert os.listdir(Path(ws.blobs.root) / "tmp") == []
    assert ondo.data.add(folder, name="moving").file_count == 3


@pytest.mark.parametrize("with_memcmp", [True, False])
@given(data=st.binary(max_size=3000), flips=st.lists(st.integers(0, 10**6), max_size=3), cut=st.integers(0, 40))
@settings(max_examples=60, deadline=None)
def test_byte_stretches_are_equal_exactly_when_every_byte_is(
    with_memcmp: bool, data: bytes, flips: list[int], cut: int
) -> None:
    """The re-add's comparison with stored bytes: the C library's memcmp where there is one, numpy
    8 bytes at a time otherwise, on whole arrays and on stretches at any offset."""
    with pytest.MonkeyPatch.context() as m:
        if not with_memcmp:
            m.setattr(ingest, "_MEMCMP", None)
        elif ingest._MEMCMP is None:
            pytest.skip("no memcmp here")
        a = np.frombuffer(data, np.uint8)
        other = bytearray(data)
        for f in flips:
            if other:
                other[f % len(other)] ^= 1 + f % 255
        b = np.frombuffer(bytes(other), np.uint8)
        assert ingest._equal(a[cut:], b[cut:], np.empty(8, np.bool_)) == (data[cut:] == bytes(other)[cut:])
        assert ingest._equal(a, b[: len(b) - 1]) is (len(a) == 0 and len(b) == 0)
