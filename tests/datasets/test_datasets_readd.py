"""The fast paths of a folder re-add: the stat snapshot that says which files are untouched, and
the ingest of a big changed row file started before the folder is listed. Each must give the
version the plain path gives, and must never pair a file's stat with other bytes."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dataset_files import age, write_jsonl

import ondo
from ondo.datasets import statcache, statsnap, versions
from ondo.errors import InvalidInput
from ondo.workspace import Workspace


def _folder(tmp_path: Path, n: int = 30) -> Path:
    folder = tmp_path / "d"
    for i in range(n):
        (folder / "files" / f"f{i:02d}.txt").parent.mkdir(parents=True, exist_ok=True)
        (folder / "files" / f"f{i:02d}.txt").write_text(f"file {i}\n" * (i + 1))
    write_jsonl(folder / "rows.jsonl", ({"n": j, "t": "x" * (j % 9)} for j in range(400)))
    age(folder)
    return folder


def _no_table(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count folder-wide stat-cache queries (the snapshot is there to avoid them)."""
    calls: list[int] = []
    real = statcache.lookup

    def counting(ws: Workspace, root: str, is_dir: bool) -> Any:
        calls.append(int(is_dir))
        return real(ws, root, is_dir)

    monkeypatch.setattr(statcache, "lookup", counting)
    return calls


def test_a_readd_trusts_the_snapshot_and_rereads_only_what_changed(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    v1 = ondo.data.add(folder, name="s")
    snap = statsnap.load(ws.settings.home, str(folder), "s")
    assert snap is not None and snap.version == v1.digest and len(snap.stat) == 31
    calls = _no_table(monkeypatch)
    read: list[str] = []
    real_store = versions.store_files

    def spy(url: str, paths: list[str], small: int) -> Any:
        read.extend(paths)
        return real_store(url, paths, small)

    monkeypatch.setattr(versions, "store_files", spy)
    (folder / "files" / "f03.txt").write_text("changed, same folder\n")
    age(folder / "files" / "f03.txt")
    (folder / "files" / "new.txt").write_text("a new file\n")
    age(folder / "files" / "new.txt")
    v2 = ondo.data.add(folder, name="s")
    assert calls == []  # no folder-wide query: the snapshot answered
    assert sorted(os.path.basename(p) for p in read) == ["f03.txt", "new.txt"]
    out = tmp_path / "out"
    v2.checkout(out)
    assert (out / "files" / "f03.txt").read_text() == "changed, same folder\n"
    assert (out / "files" / "new.txt").read_text() == "a new file\n"
    again = ondo.data.add(folder, name="s")
    assert again.version == v2.version and calls == []


def test_a_readd_that_takes_over_the_previous_entries_gives_the_version_a_first_add_gives(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the snapshot and the listing in step, a re-add keeps the previous version's entries
    and looks only at the files the snapshot does not vouch for; step after step, its version
    lists what a first add of the same folder (another name, no snapshot) lists."""
    folder = _folder(tmp_path)
    ondo.data.add(folder, name="s")
    taken: list[bool] = []
    real = versions._lines_up

    def spy(*a: Any) -> bool:
        taken.append(real(*a))
        return taken[-1]

    monkeypatch.setattr(versions, "_lines_up", spy)
    looked: list[int] = []  # files the snapshot did not vouch for, per re-add
    real_known = statsnap.Snapshot.known

    def known(self: statsnap.Snapshot, *a: Any) -> statsnap.Known:
        out = real_known(self, *a)
        looked.append(int((~out.ok).sum()))
        return out

    monkeypatch.setattr(statsnap.Snapshot, "known", known)

    def write(path: Path, text: str) -> list[Path]:
        path.write_text(text)
        return [path]

    files = folder / "files"
    edits: list[Any] = [
        lambda: write(files / "f05.txt", "edited\n"),
        lambda: [write_jsonl(folder / "rows.jsonl", ({"n": j, "t": "y" * (j % 9)} for j in range(300)))],
        lambda: write(files / "f05.txt", "file 5\n" * 6) + write(files / "f29.txt", "last\n"),  # one back as it was
        lambda: [],  # nothing changed
        lambda: [p for i in range(30) for p in write(files / f"f{i:02d}.txt", f"all {i}\n")],
    ]
    for step, edit in enumerate(edits):
        changed = edit()
        for p in changed:
            age(p)  # only what was written: the snapshot still vouches for the rest
        v = ondo.data.add(folder, name="s")
        assert taken[-1], f"step {step}: the previous version's entries were taken over"
        assert looked[-1] == len(changed), f"step {step}: only the files written were looked at"
        fresh = ondo.data.add(folder, name=f"fresh{step}")
        # the same files, digests and schemas; only where the rows are stored may differ (the
        # re-add's row index points into earlier packs), and with it the version's digest
        assert [dataclasses.replace(e, rows=None) for e in v.manifest.files] == [
            dataclasses.replace(e, rows=None) for e in fresh.manifest.files
        ], f"step {step}"
    assert ondo.data.verify().ok


def test_a_snapshot_of_another_version_or_a_damaged_one_is_not_used(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    ondo.data.add(folder, name="s")
    path = statsnap._path(ws.settings.home, str(folder), "s")
    kept = path.read_bytes()
    (folder / "files" / "f01.txt").write_text("v2\n")
    age(folder)
    ondo.data.add(folder, name="s")
    path.write_bytes(kept)  # a snapshot taken for v1, while v2 is the latest
    calls = _no_table(monkeypatch)
    (folder / "files" / "f02.txt").write_text("v3\n")
    age(folder)
    v3 = ondo.data.add(folder, name="s")
    assert calls == [1] and v3.version == 3
    path.write_bytes(b"not a snapshot")
    (folder / "files" / "f04.txt").write_text("v4\n")
    age(folder)
    v4 = ondo.data.add(folder, name="s")
    assert calls == [1, 1] and v4.version == 4
    out = tmp_path / "out"
    v4.checkout(out)
    assert [(out / "files" / f"f0{i}.txt").read_text() for i in (1, 2, 4)] == ["v2\n", "v3\n", "v4\n"]


def test_a_racy_file_is_not_trusted_from_the_snapshot(ws: Workspace, tmp_path: Path) -> None:
    """Same size and mtime, new bytes, written in the tick it was hashed: the snapshot must not vouch for it."""
    folder = tmp_path / "r"
    f = folder / "a.txt"
    folder.mkdir()
    f.write_text("one\n")
    future = time.time_ns() + 30 * 1_000_000_000
    os.utime(f, ns=(future, future))
    ondo.data.add(folder, name="r")
    f.write_text("two\n")
    os.utime(f, ns=(future, future))
    v2 = ondo.data.add(folder, name="r")
    assert v2.version == 2
    out = tmp_path / "out"
    v2.checkout(out)
    assert (out / "a.txt").read_text() == "two\n"


def _big_rows(folder: Path, rows: int, tag: str = "x") -> Path:
    return write_jsonl(folder / "big.jsonl", ({"n": j, "t": tag * (j % 13)} for j in range(rows)))


def test_a_big_changed_row_file_is_ingested_ahead(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)
    folder = tmp_path / "d"
    _big_rows(folder, 3000)
    (folder / "other.txt").write_text("other\n")
    age(folder)
    ondo.data.add(folder, name="b")
    ahead: list[str] = []
    real = versions._ingest_ahead

    def spy(*a: Any) -> Any:
        ahead.append(a[2])
        return real(*a)

    monkeypatch.setattr(versions, "_ingest_ahead", spy)
    _big_rows(folder, 3001)
    age(folder)
    v2 = ondo.data.add(folder, name="b")
    assert ahead == ["big.jsonl"] and v2.version == 2 and v2.row_count == 3001
    again = ondo.data.add(folder, name="b")  # untouched since: nothing to do ahead
    assert ahead == ["big.jsonl"] and again.version == 2


def test_a_file_replaced_after_its_ingest_ahead_is_read_again(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rsync and `cp -p` + `mv` replace a file with one whose mtime is old: if that happens between the
    ingest ahead and the listing, the version must hold the file the listing saw, so the stat
    cache's entry (that stat, this digest) is true."""
    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)
    folder = tmp_path / "d"
    target = _big_rows(folder, 400)
    age(folder)
    ondo.data.add(folder, name="swap")
    _big_rows(folder, 401)
    age(folder)
    replacement = write_jsonl(tmp_path / "b.jsonl", ({"b": j} for j in range(45)))
    old = time.time_ns() - 3600 * 10**9
    os.utime(replacement, ns=(old, old))
    real_scan = versions.scan

    def replace_then_scan(*a: Any) -> Any:
        time.sleep(0.2)  # let the ingest ahead read the file first
        os.replace(replacement, target)
        return real_scan(*a)

    monkeypatch.setattr(versions, "scan", replace_then_scan)
    v2 = ondo.data.add(folder, name="swap")
    monkeypatch.setattr(versions, "scan", real_scan)
    assert [r["b"] for r in v2.rows()] == list(range(45))
    again = ondo.data.add(folder, name="swap")
    assert again.version == v2.version


def test_a_bad_row_found_ahead_is_reported_with_its_line(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)
    folder = tmp_path / "d"
    target = _big_rows(folder, 300)
    age(folder)
    ondo.data.add(folder, name="bad")
    lines = target.read_text().splitlines()
    lines[199] = '{"n": 199, broken'
    target.write_text("\n".join(lines) + "\n")
    age(folder)
    with pytest.raises(InvalidInput) as err:
        ondo.data.add(folder, name="bad")
    assert err.value.file is not None and err.value.file.endswith("big.jsonl") and err.value.line == 200
    assert [v.version for v in ondo.data.versions_of("bad")] == [1]


def test_the_ingest_ahead_never_forks(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes find the body they scan in a module global: two threads forking at once could
    hand a worker the other file. A re-add whose previous groups were cut otherwise reads the file
    whole, so here the ingest ahead does a first add's scan, in this process."""
    from ondo.datasets import ingest, workers

    monkeypatch.setattr(versions, "_EARLY_BYTES", 0)
    monkeypatch.setattr(workers, "SEGMENT_BYTES", 1024)
    monkeypatch.setattr(workers, "MIN_PARALLEL_SCAN", 2 * 1024)
    folder = tmp_path / "d"
    with monkeypatch.context() as m:
        m.setattr(ingest, "CHUNK_ROWS", 64)  # another rule: the next add cannot reuse these groups
        ondo.data.add(_big_rows(folder, 3000), name="f")
    forked: list[str] = []
    real_pool = workers.process_pool

    def pool(n: int) -> Any:
        import threading

        forked.append(threading.current_thread().name)
        return real_pool(n)

    monkeypatch.setattr(workers, "process_pool", pool)
    _big_rows(folder, 3001, "y")
    write_jsonl(folder / "another.jsonl", ({"n": j, "t": "z" * (j % 11)} for j in range(3000)))  # listed first
    age(folder)
    v2 = ondo.data.add(folder, name="f")
    assert v2.row_count == 6001 and forked and not [t for t in forked if t.startswith("ondo-ahead")]


def test_a_snapshot_that_does_not_match_the_manifest_vouches_for_nothing(ws: Workspace, tmp_path: Path) -> None:
    """The snapshot holds a row per entry of its version's manifest and nothing else; one whose
    rows do not match that manifest (written by something else) trusts no file."""
    folder = _folder(tmp_path)
    v1 = ondo.data.add(folder, name="s")
    snap = statsnap.load(ws.settings.home, str(folder), "s")
    assert snap is not None
    files = versions.scan(folder)
    entries = v1.manifest.files
    assert snap.known(files, entries).ok.all()  # all untouched
    short = statsnap.Snapshot(snap.version, snap.stat[:-1])
    got = short.known(files, entries)
    assert not got.ok.any() and got.digests(entries) == [None] * len(files) and got.hashed_at == [-1] * len(files)
    shuffled = statsnap.Snapshot(snap.version, np.roll(snap.stat, 1, axis=0))  # each row another file's
    assert not shuffled.known(files, entries).ok.any()
