"""Diffs between versions: files, rows by digest, and rows matched by a key column."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ondo
from ondo.workspace import Workspace


def _edit_arc(src: Path) -> tuple[str, str, dict[str, object]]:
    """Edit one question, drop one row, add one row; returns (edited id, dropped id, new row)."""
    lines = src.read_text().splitlines()
    first, twentieth = json.loads(lines[10]), json.loads(lines[20])
    edited, dropped = first["id"], twentieth["id"]
    first["question"]["stem"] = "Which planet is closest to the sun?"
    lines[10] = json.dumps(first, separators=(",", ":"))
    del lines[20]
    new = {"id": "ondo_new_1", "question": {"stem": "new?", "choices": []}, "answerKey": "A"}
    lines.append(json.dumps(new))
    src.write_text("".join(line + "\n" for line in lines))
    return str(edited), str(dropped), new


def test_row_diff_with_and_without_key(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "arc"
    folder.mkdir()
    src = folder / "dev.jsonl"
    shutil.copyfile(shared_data / "arc" / "ARC-Challenge-Dev.jsonl", src)
    (folder / "notes.txt").write_text("v1 notes")
    total = len(src.read_text().splitlines())
    ondo.data.add(folder, name="arc")
    edited, dropped, new = _edit_arc(src)
    (folder / "notes.txt").unlink()
    (folder / "extra.md").write_text("more")
    ondo.data.add(folder, name="arc")

    d = ondo.data.diff("arc@v1", "arc@v2")
    assert (d.files_added, d.files_removed, d.files_changed, d.files_unchanged) == (
        ["extra.md"], ["notes.txt"], ["dev.jsonl"], 0,
    )
    # without a key an edit is one removal plus one addition
    assert (d.rows_added, d.rows_removed, d.rows_changed) == (2, 2, 0)
    assert d.rows_unchanged == total - 2
    assert {r["id"] for r in d.samples["added"]} == {edited, "ondo_new_1"}
    assert {r["id"] for r in d.samples["removed"]} == {edited, dropped}

    k = ondo.data.diff("arc@v1", "arc@v2", key="id")
    assert (k.rows_added, k.rows_removed, k.rows_changed, k.rows_unchanged) == (1, 1, 1, total - 2)
    [change] = k.samples["changed"]
    assert change["key"] == edited and change["columns"] == ["question"]
    assert change["after"]["question"]["stem"] == "Which planet is closest to the sun?"
    assert k.samples["added"] == [new]
    assert [r["id"] for r in k.samples["removed"]] == [dropped]
    body = k.to_dict()
    assert body["rows"]["changed"] == 1 and body["files"]["changed"] == ["dev.jsonl"]

    same = ondo.data.diff("arc@v2", "arc@v2", key="id")
    assert same.identical and (same.rows_added, same.rows_removed, same.rows_changed) == (0, 0, 0)


def test_key_diff_on_tsv(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    src = tmp_path / "sts.tsv"
    lines = (shared_data / "korean" / "korsts" / "sts-test.tsv").read_text(encoding="utf-8").splitlines(True)
    src.write_text("".join(lines[:200]), encoding="utf-8")
    ondo.data.add(src, name="sts")
    header = lines[0].rstrip("\n").split("\t")
    fields = lines[5].rstrip("\n").split("\t")
    fields[header.index("score")] = "0.000"
    lines[5] = "\t".join(fields) + "\n"
    src.write_text("".join(lines[:200]), encoding="utf-8")
    ondo.data.add(src, name="sts")
    # 'id' repeats across genres in KorSTS; match on it anyway: the one edited row is the one change
    d = ondo.data.diff("sts@v1", "sts@v2", key="sentence1")
    assert (d.rows_changed, d.rows_added, d.rows_removed) == (1, 0, 0)
    assert d.samples["changed"][0]["columns"] == ["score"]
    assert d.samples["changed"][0]["after"]["score"] == "0.000"


def test_moved_row_between_files_is_not_a_change(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"id": 1}\n{"id": 2}\n')
    (folder / "b.jsonl").write_text('{"id": 3}\n')
    ondo.data.add(folder, name="shards")
    (folder / "a.jsonl").write_text('{"id": 1}\n')
    (folder / "b.jsonl").write_text('{"id": 3}\n{"id": 2}\n')
    ondo.data.add(folder, name="shards")
    d = ondo.data.diff("shards@v1", "shards@v2", key="id")
    assert d.files_changed == ["a.jsonl", "b.jsonl"]
    assert (d.rows_added, d.rows_removed, d.rows_changed, d.rows_unchanged) == (0, 0, 0, 3)
