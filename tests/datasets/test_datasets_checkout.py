"""Checkout materializes exactly what was added; verify finds missing and corrupted blobs."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest
from dataset_files import write_jsonl
from typer.testing import CliRunner

import ondo
from ondo.cli.main import app
from ondo.datasets import locations
from ondo.datasets.packs import load_rows
from ondo.errors import StoreError
from ondo.workspace import Workspace


def _corpus(shared_data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(shared_data / "mmlu" / "dev", folder / "mmlu" / "dev")
    shutil.copyfile(shared_data / "korean" / "kornli" / "xnli.test.ko.tsv", folder / "kornli.tsv")
    shutil.copyfile(shared_data / "hellaswag" / "hellaswag_val_full.txt.bz2", folder / "hellaswag.txt.bz2")
    (folder / "truthfulqa").mkdir()
    shutil.copyfile(shared_data / "truthfulqa" / "mc_task.json", folder / "truthfulqa" / "mc_task.json")
    shutil.copyfile(shared_data / "mt_bench" / "question.jsonl", folder / "mt_bench.jsonl")
    return folder


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _match, mismatch, errors = filecmp.cmpfiles(a, b, [str(p) for p in files_a], shallow=False)
    assert mismatch == [] and errors == []


def test_checkout_and_path_are_byte_identical(ws: Workspace, shared_data: Path, tmp_path: Path) -> None:
    src = _corpus(shared_data, tmp_path)
    v = ondo.data.add(src, name="corpus")
    assert v.file_count == 57 + 4
    out = tmp_path / "out"
    res = ondo.data.checkout("corpus@v1", out)
    assert res.files == v.file_count and res.bytes == v.size
    _same_tree(src, out)
    cached = v.path()
    _same_tree(src, cached)
    assert v.path() == cached and cached.is_relative_to(ws.settings.home)
    # checking out over an existing checkout rewrites it in place
    (out / "kornli.tsv").write_text("scribbled")
    ondo.data.checkout("corpus", out)
    _same_tree(src, out)


def test_verify_reports_missing_and_corrupted_blobs(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "d"
    write_jsonl(folder / "rows.jsonl", ({"i": i} for i in range(50)))
    (folder / "model.bin").write_bytes(b"\x00" * 5000)
    v = ondo.data.add(folder, name="d")
    report = ondo.data.verify()
    assert report.ok and report.blobs_checked == 5  # manifest, whole file, row index, row group, pack

    entries = v.manifest.by_path()
    rows_entry = entries["rows.jsonl"]
    assert rows_entry.rows is not None
    [pack] = load_rows(ws.blobs, rows_entry.rows).packs
    Path(ws.blobs.path_of(pack)).write_bytes(b"garbage")
    with ws.read() as conn:  # a small file lives in a file pack
        [(file_pack, _, _)] = locations.lookup(conn, [entries["model.bin"].digest]).values()
    Path(ws.blobs.path_of(file_pack)).unlink()

    report = ondo.data.verify("d@v1")
    assert not report.ok
    found = {(p["path"], p["role"], p["status"]) for p in report.problems}
    assert found == {("rows.jsonl", "row pack", "corrupted"), ("model.bin", "file pack", "missing")}

    result = CliRunner().invoke(app, ["data", "verify", "--json"])
    assert result.exit_code == 1
    assert '"status": "corrupted"' in result.output and '"status": "missing"' in result.output
    with pytest.raises(StoreError):
        v.checkout(tmp_path / "broken")


def test_versions_on_an_fsspec_blob_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs behind any fsspec URL (here memory://, as s3:// would be): add, re-add, checkout, verify."""
    import uuid

    from ondo.workspace import reset_default_cache

    monkeypatch.setenv("ONDO_ARTIFACTS_URL", f"memory://ondo-test-{uuid.uuid4().hex}")
    reset_default_cache()
    ws = Workspace.default()
    assert not ws.blobs.local
    folder = tmp_path / "d"
    write_jsonl(folder / "rows.jsonl", ({"i": i} for i in range(3000)))
    (folder / "w.bin").write_bytes(b"\x01" * 3000)
    ondo.data.add(folder, name="remote")
    lines = (folder / "rows.jsonl").read_text().splitlines()
    lines[1500] = '{"i": "edited"}'
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")
    v2 = ondo.data.add(folder, name="remote")
    assert v2.version == 2 and not Path(ws.settings.home, "blobs").exists()
    out = tmp_path / "out"
    v2.checkout(out)
    _same_tree(folder, out)
    d = ondo.data.diff("remote@v1", "remote@v2", key="i")
    assert (d.rows_added, d.rows_removed) == (1, 1)
    assert ondo.data.verify().ok
    assert v2.to_pandas()["i"].tolist()[1500] == "edited"


def test_corrupted_byte_inside_a_file_pack_is_found(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "small"
    for i in range(5):
        (folder / f"f{i}.txt").parent.mkdir(exist_ok=True)
        (folder / f"f{i}.txt").write_text(f"file number {i}\n" * 10)
    v = ondo.data.add(folder, name="small")
    with ws.read() as conn:
        where = locations.lookup(conn, [f.digest for f in v.files])
    assert len({p for p, _, _ in where.values()}) == 1  # five files, one pack blob
    pack, off, _ = where[v.manifest.by_path()["f3.txt"].digest]
    path = Path(ws.blobs.path_of(pack))
    data = bytearray(path.read_bytes())
    data[off] ^= 0xFF
    path.write_bytes(bytes(data))
    report = ondo.data.verify("small")
    assert ("f3.txt", "file pack", "corrupted") in {(p["path"], p["role"], p["status"]) for p in report.problems}
    with pytest.raises(StoreError, match="corrupted"):
        v.checkout(tmp_path / "out")
