"""Adding versions: numbering, identifiers, re-adds, the stat cache, and row sharing between versions."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from dataset_files import age, blob_digests, write_jsonl

import ondo
from ondo.datasets import ingest
from ondo.datasets import versions as versions_mod
from ondo.datasets.manifest import Manifest
from ondo.datasets.packs import RowList, load_index, load_rows
from ondo.errors import InvalidInput, NotFound
from ondo.workspace import Workspace


def _arc(shared_data: Path, tmp_path: Path) -> Path:
    src = tmp_path / "arc.jsonl"
    shutil.copyfile(shared_data / "arc" / "ARC-Easy-Dev.jsonl", src)
    return src


def _new_blobs(ws: Workspace, before: set[str]) -> dict[str, bytes]:
    return {d: ws.blobs.get_bytes(d) for d in blob_digests(ws) - before}


def _row_list(ws: Workspace, v: ondo.data.DatasetVersion, path: str) -> RowList:
    entry = v.manifest.by_path()[path]
    assert entry.rows is not None
    return load_rows(ws.blobs, entry.rows)


def test_versions_start_at_one_and_identifiers_resolve(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    src = _arc(shared_data, tmp_path)
    v1 = ondo.data.add(src, name="qa-train", message="first")
    assert (v1.version, v1.created, v1.row_count, v1.file_count) == (1, True, 570, 1)
    lines = src.read_text().splitlines()
    src.write_text("\n".join(lines[:-1]) + "\n")
    v2 = ondo.data.add(src, name="qa-train", message="drop last")
    assert v2.version == 2 and v2.digest != v1.digest and v2.row_count == 569

    assert ondo.data.get("qa-train@v1") == v1
    assert ondo.data.get("qa-train/1") == v1
    assert ondo.data.get("qa-train@latest") == v2
    assert ondo.data.get("qa-train") == v2
    assert ondo.data.get(f"qa-train@{v1.digest[:15]}") == v1
    assert ondo.data.get(f"qa-train@{v2.digest}") == v2
    ondo.data.set_alias("qa-train", "prod", 1)
    assert ondo.data.get("qa-train@prod") == v1
    ondo.data.set_alias("qa-train", "prod", "v2", reason="newer")
    assert ondo.data.get("qa-train@prod") == v2
    assert ondo.data.get("qa-train@v1").message == "first"

    with pytest.raises(NotFound) as miss:
        ondo.data.get("qa-trian")
    assert "qa-train" in miss.value.suggestions
    with pytest.raises(NotFound):
        ondo.data.get("qa-train@v9")
    with pytest.raises(NotFound):
        ondo.data.get("qa-train@staging")
    with pytest.raises(NotFound):
        ondo.data.get("qa-train@sha256:0000000000")
    with pytest.raises(NotFound):
        ondo.data.set_alias("qa-train", "prod", 7)

    h = ondo.data.history("qa-train")
    assert [v["version"] for v in h["versions"]] == [1, 2]
    assert [(e["from_version"], e["to_version"]) for e in h["alias_events"]] == [(None, 1), (1, 2)]
    assert h["alias_events"][1]["reason"] == "newer"
    [info] = ondo.data.list()
    assert (info.name, info.latest_version, info.versions, info.aliases) == ("qa-train", 2, 2, {"prod": 2})


def test_readd_unchanged_returns_existing_without_rehashing(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data"
    write_jsonl(folder / "rows.jsonl", ({"id": i, "text": f"row {i}"} for i in range(3000)))
    (folder / "blobs").mkdir()
    for i in range(20):
        (folder / "blobs" / f"f{i}.bin").write_bytes(os.urandom(1000 + i))
    age(folder)

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("an untouched file was read again")

    v1 = ondo.data.add(folder, name="mixed")
    # the same content under another name: that dataset's first version, with the same digest,
    # and the untouched small files are found in the file packs instead of being stored again
    before = blob_digests(ws)
    monkeypatch.setattr(versions_mod, "store_files", boom)
    other = ondo.data.add(folder, name="mixed-copy")
    assert other.version == 1 and other.digest == v1.digest
    assert blob_digests(ws) == before

    monkeypatch.setattr(versions_mod, "store_files", boom)
    monkeypatch.setattr(versions_mod, "ingest_text_rows", boom)
    again = ondo.data.add(folder, name="mixed")
    assert again == v1 and again.created is False


def test_racy_file_is_rehashed(ws: Workspace, tmp_path: Path) -> None:
    """A file whose mtime is not older than its hash cannot be trusted: same size, same mtime, new bytes."""
    src = tmp_path / "racy.jsonl"
    src.write_text('{"a": 1}\n')
    future = time.time_ns() + 30 * 1_000_000_000
    os.utime(src, ns=(future, future))
    v1 = ondo.data.add(src, name="racy")
    src.write_text('{"a": 2}\n')
    os.utime(src, ns=(future, future))
    v2 = ondo.data.add(src, name="racy")
    assert v2.version == 2 and [r["a"] for r in v2.rows()] == [2]
    assert v1.digest != v2.digest


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize(
    "edit",
    ["change", "insert_front", "delete_middle", "append", "insert_middle"],
)
@pytest.mark.parametrize("chunk_rows", [256, ingest.CHUNK_ROWS])  # about twenty groups, and the default (one)
def test_one_row_change_stores_one_new_row(
    ws: Workspace, tmp_path: Path, edit: str, newline: str, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "CHUNK_ROWS", chunk_rows)
    rows = [{"id": i, "q": f"question {i}", "a": "x" * (i % 17)} for i in range(5000)]
    src = write_jsonl(tmp_path / "qa.jsonl", rows, newline)
    age(src)
    ondo.data.add(src, name="qa")
    before = blob_digests(ws)
    new_row = {"id": -1, "q": "brand new", "a": "안녕하세요"}
    if edit == "change":
        rows[2500] = {**rows[2500], "q": "edited"}
        new_row = rows[2500]
    elif edit == "insert_front":
        rows.insert(0, new_row)
    elif edit == "delete_middle":
        del rows[1234]
        new_row = None  # type: ignore[assignment]
    elif edit == "append":
        rows.append(new_row)
    else:
        rows.insert(3000, new_row)
    write_jsonl(src, rows, newline)
    v2 = ondo.data.add(src, name="qa")
    assert v2.version == 2 and v2.row_count == len(rows)

    added = _new_blobs(ws, before)
    rl = _row_list(ws, v2, "qa.jsonl")
    packs = [d for d in added if d in rl.packs]
    if new_row is None:
        assert packs == []
    else:
        assert len(packs) == 1
        assert added[packs[0]] == json.dumps(new_row, ensure_ascii=False).encode()
    # besides the manifest: the new row index, one or two row groups around the edit, the pack
    entry = v2.manifest.by_path()["qa.jsonl"]
    groups = set(added) - set(packs) - {v2.digest, entry.rows}
    assert entry.rows in added and 1 <= len(groups) <= 2
    index = load_index(ws.blobs, entry.rows)
    reused = [g for g in index.groups if g.entries not in added]
    assert len(reused) >= len(index.groups) - 2  # every group away from the edit is the old one
    if chunk_rows < len(rows) // 8:
        assert len(index.groups) >= 8
        assert sum(g.count for g in index.groups if g.entries in added) < len(rows) // 4
    assert [r["id"] for r in v2.rows()] == [r["id"] for r in rows]
    out = tmp_path / "out"
    v2.checkout(out)
    assert (out / "qa.jsonl").read_bytes() == src.read_bytes()


def test_folder_add_skips_tool_state_and_keeps_paths(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_jsonl(folder / "train" / "a.jsonl", [{"t": "a"}])
    write_jsonl(folder / "test" / "b.jsonl", [{"t": "b"}, {"t": "c"}])
    (folder / "README.md").write_text("hello")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    v = ondo.data.add(folder, name="corpus")
    assert sorted(f.path for f in v.files) == ["README.md", "test/b.jsonl", "train/a.jsonl"]
    assert v.row_count == 3 and v.file_count == 3
    kinds = {f.path: f.kind for f in v.files}
    assert kinds == {"README.md": "file", "test/b.jsonl": "rows", "train/a.jsonl": "rows"}


def test_ondo_home_inside_added_folder_is_not_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ondo.workspace import reset_default_cache

    project = tmp_path / "project"
    write_jsonl(project / "data.jsonl", [{"x": 1}])
    monkeypatch.setenv("ONDO_HOME", str(project / ".ondo-store"))
    reset_default_cache()
    v = ondo.data.add(project, name="proj")
    assert [f.path for f in v.files] == ["data.jsonl"]


def test_bad_paths_and_names(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        ondo.data.add(tmp_path / "missing.jsonl", name="x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="no files"):
        ondo.data.add(tmp_path / "empty", name="x")
    (tmp_path / "ok.txt").write_text("x")
    with pytest.raises(InvalidInput, match="dataset name"):
        ondo.data.add(tmp_path / "ok.txt", name="bad name!")


def test_manifest_is_canonical(ws: Workspace, tmp_path: Path) -> None:
    """The digest names the content: the same files added from two places give the same version digest."""
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        write_jsonl(folder / "x.jsonl", [{"k": 1}, {"k": 2}])
        (folder / "z.txt").write_text("zz")
    va = ondo.data.add(a, name="one")
    vb = ondo.data.add(b, name="two")
    assert va.digest == vb.digest
    m = Manifest.decode(ws.blobs.get_bytes(va.digest))
    assert m.encode() == ws.blobs.get_bytes(va.digest)


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_link_that_leads_nowhere_is_reported_by_path_and_reason(ws: Workspace, tmp_path: Path, kind: str) -> None:
    """A broken symbolic link or a link loop in a folder stops the add with the link's path and why,
    not a traceback, and leaves no version."""
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "ok.txt").write_text("fine\n")
    link = folder / "sub" / "bad.txt"
    if kind == "dangling":
        link.symlink_to(folder / "gone.txt")
    else:
        link.symlink_to(link)
    with pytest.raises(InvalidInput) as err:
        ondo.data.add(folder, name="links")
    assert err.value.file == str(link)
    assert ("symbolic link to nothing" if kind == "dangling" else "loop of symbolic links") in str(err.value)
    assert ondo.data.list() == []
    link.unlink()
    assert ondo.data.add(folder, name="links").file_count == 1


def test_a_file_name_that_is_not_utf8_is_refused_by_path(ws: Workspace, tmp_path: Path) -> None:
    """A version's paths are JSON text: a name whose bytes are not UTF-8 stops the add with the
    path (undecodable bytes shown as U+FFFD), not a traceback, and leaves no version."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine\n")
    try:
        with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as f:
            f.write(b"x")
    except OSError:
        pytest.skip("this file system takes only UTF-8 names")
    with pytest.raises(InvalidInput, match="not valid UTF-8") as err:
        ondo.data.add(folder, name="names")
    assert err.value.file == str(folder) + "/caf\ufffd.txt"
    assert ondo.data.list() == []
